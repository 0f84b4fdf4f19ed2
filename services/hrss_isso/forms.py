"""Field checks for the ISSO's forms: each returns the normalised value or
records a Chinese message against the field, so a page can show every
mistake next to its field at once."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from services.hrss_isso import messages as msg
from shared.account_rules import RuleError, check_hrss_login_account, check_hrss_password
from shared.identifiers import IdentifierError, validate_org_code, validate_resident_id, validate_uscc
from shared.sms import check_mobile

__all__ = ["Errors", "FormRejected", "Refused", "text_of"]

_CHINESE_NAME = re.compile(r"^[\u4e00-\u9fa5][\u4e00-\u9fa5·]{0,28}[\u4e00-\u9fa5]$")


def text_of(form, name: str, limit: int = 200) -> str:
    """A text field as a string, trimmed and cut to a sane length."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


class FormRejected(Exception):
    """A form could not be accepted; ``errors`` maps field → message
    (the key ``""`` holds a message for the form as a whole)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class Errors:
    errors: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise FormRejected(self.errors)

    # -- the checks ------------------------------------------------------------
    def required(self, name: str, value: str, label: str) -> str:
        if not value:
            self.add(name, msg.REQUIRED.format(label=label))
        return value

    def person_name(self, name: str, value: str, *, message: str = msg.PERSON_NAME_RULE) -> str:
        if not _CHINESE_NAME.match(value):
            self.add(name, message)
        return value

    def resident_id(self, name: str, value: str, *, today: dt.date) -> str:
        try:
            return validate_resident_id(value, today=today)
        except IdentifierError as exc:
            self.add(name, exc.message)
            return value

    def unit_cert(self, name: str, cert_type: str, value: str) -> str:
        try:
            return validate_uscc(value) if cert_type == "uscc" else validate_org_code(value)
        except IdentifierError as exc:
            self.add(name, exc.message)
            return value

    def mobile(self, name: str, value: str) -> str:
        normalised = check_mobile(value)
        if normalised is None:
            self.add(name, msg.MOBILE_RULE)
            return value
        return normalised

    def login_name(self, name: str, value: str) -> str:
        try:
            check_hrss_login_account(value)
        except RuleError as exc:
            self.add(name, exc.message)
        return value

    def new_password(self, name: str, value: str, confirm_name: str, confirm: str, *, max_keyboard_run: int) -> str:
        try:
            check_hrss_password(value, max_keyboard_run=max_keyboard_run)
        except RuleError as exc:
            self.add(name, exc.message)
            return value
        if value != confirm:
            self.add(confirm_name, msg.PASSWORD_MISMATCH)
        return value

    def length(self, name: str, value: str, low: int, high: int, message: str, *, label: str) -> str:
        if not value:
            self.add(name, msg.REQUIRED.format(label=label))
        elif not low <= len(value) <= high:
            self.add(name, message)
        return value

    def sms_code(self, name: str, value: str) -> str:
        if not value:
            self.add(name, msg.SMS_REQUIRED)
        return value


class Refused(Exception):
    """An action on an existing record was refused (not a form field's fault);
    ``status`` is the HTTP status the page answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
