"""Money: an amount in minor units (cents, pence, yen) of an ISO 4217 currency.

Amounts stay whole numbers in the fields named `*_cents`; `currency` says whose minor units
they are. A task's offers are in the task's currency: nobody compares yen with euros.
"""

from __future__ import annotations

from chore_common.errors import InvalidInput

# ISO 4217 active codes (2024), funds and precious metals left out: a chore is paid in cash.
_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    ZWG
"""
CURRENCIES: frozenset[str] = frozenset(_CODES.split())

# The platform's default unless TASKS_DEFAULT_CURRENCY names another.
DEFAULT_CURRENCY = "EUR"


def require_currency(value: str) -> str:
    """`value` when it is a known ISO 4217 code (three capitals), else 422 `bad_currency`."""
    if value not in CURRENCIES:
        raise InvalidInput(f"{value!r} is not an ISO 4217 currency code", code="bad_currency")
    return value


def require_same_currency(given: str | None, expected: str) -> str:
    """The currency of an offer: the task's; naming another one is 422 `currency_mismatch`."""
    if given is not None and given != expected:
        raise InvalidInput(
            f"this task is paid in {expected}, not {given}", code="currency_mismatch"
        )
    return expected
