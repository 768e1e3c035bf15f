"""`/dev/mail`: the mail the platform sent, as the local SMTP sink stored it (`make run`).

Only there when `GATEWAY_DEV_MAIL_DIR` is set, which tools/stack.py does and no deployment
does: it shows every mail (reset links included) to whoever can reach the gateway.

    GET /dev/mail            a page listing the mail, newest first
    GET /dev/mail/{id}       one mail: headers, plain text, and the HTML (sandboxed)
    GET /dev/mail.json       the list with each mail's text and HTML, for scripts (make demo)
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from chore_common.errors import NotFound
from chore_gateway.keys import DEV_MAIL

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
pre{{white-space:pre-wrap;background:#f4f4f4;padding:1em}}iframe{{width:100%;height:30em}}</style>
</head><body><h1>{title}</h1>{body}</body></html>
"""


def _page(title: str, body: str) -> web.Response:
    return web.Response(
        text=PAGE.format(title=escape(title), body=body),
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


async def index(request: web.Request) -> web.Response:
    mails = await request.app[DEV_MAIL].listing()
    rows = "".join(
        f"<tr><td>{escape(m['date'])}</td><td>{escape(m['to'])}</td>"
        f'<td><a href="/dev/mail/{escape(m["id"])}">{escape(m["subject"]) or "(no subject)"}'
        "</a></td></tr>"
        for m in mails
    )
    table = (
        "<table><tr><th>date</th><th>to</th><th>subject</th></tr>" + rows + "</table>"
        if mails
        else "<p>No mail yet.</p>"
    )
    return _page(f"Mail sent by the platform ({len(mails)})", table)


async def one(request: web.Request) -> web.Response:
    mail = await request.app[DEV_MAIL].message(request.match_info["id"])
    if mail is None:
        raise NotFound("No such mail.")
    headers = "".join(
        f"<tr><th>{name}</th><td>{escape(mail[key])}</td></tr>"
        for name, key in (("From", "from"), ("To", "to"), ("Date", "date"), ("Subject", "subject"))
    )
    # The HTML part in a sandbox: no scripts, no same-origin access, whatever it holds.
    body = (
        f'<p><a href="/dev/mail">all mail</a></p><table>{headers}</table>'
        f"<h2>Text</h2><pre>{escape(mail['text'])}</pre>"
        f'<h2>HTML</h2><iframe sandbox="" srcdoc="{escape(mail["html"], quote=True)}"></iframe>'
    )
    return _page(mail["subject"] or "(no subject)", body)


async def as_json(request: web.Request) -> web.Response:
    box = request.app[DEV_MAIL]
    mails = [await box.message(m["id"]) for m in await box.listing()]
    return web.json_response(
        {"items": [m for m in mails if m is not None]}, headers={"Cache-Control": "no-store"}
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/dev/mail", index, allow_head=False)
    router.add_get("/dev/mail.json", as_json, allow_head=False)
    router.add_get("/dev/mail/{id:[^/]+}", one, allow_head=False)
