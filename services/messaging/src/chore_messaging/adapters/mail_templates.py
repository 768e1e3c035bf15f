"""Mail templates: Jinja2 files, one folder per language (services/messaging/mail/<lang>/).

Jinja2 rather than `string.Template` because the HTML bodies carry text users wrote (names,
task titles, dispute reasons): Jinja2 escapes it in `.html` files and nowhere else, and its
i18n extension marks every sentence (`{% trans %}`) for a translator without changing the
English. An undefined value is an error (StrictUndefined), never an empty hole in a mail.
A template that does not load or render raises `TemplateProblem`: the consumer dead-letters
that event at once, with the error, since no retry can mend a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import jinja2

from chore_common.bus.consumer import Unprocessable
from chore_messaging.domain.mail import Letter, MailKind

TEMPLATES = Path(__file__).resolve().parents[3] / "mail"


class TemplateProblem(Unprocessable):
    pass


class JinjaRenderer:
    """`render(kind, values) -> Letter` from `<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`."""

    def __init__(self, folder: Path, *, language: str, app_url: str) -> None:
        self.folder = folder / language
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.folder),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            keep_trailing_newline=True,
        )
        # English is written in the templates; a translation installs gettext here.
        self.env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
        self.env.globals["app_url"] = app_url.rstrip("/")

    def __call__(self, kind: MailKind, values: Mapping[str, object]) -> Letter:
        subject = self._render(f"{kind}.subject.txt", values)
        text = self._render(f"{kind}.txt", values)
        html = self._render(f"{kind}.html", values)
        return Letter(" ".join(subject.split()), text, html)

    def _render(self, name: str, values: Mapping[str, object]) -> str:
        try:
            return self.env.get_template(name).render(values)
        except jinja2.TemplateError as exc:
            where = f"{self.folder.name}/{name}"
            raise TemplateProblem(f"{where}: {type(exc).__name__}: {exc}") from exc
