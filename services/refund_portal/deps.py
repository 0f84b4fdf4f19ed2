"""What refund_portal's handlers need, as FastAPI dependencies.

``create_app`` puts the service's parts on ``app.state`` at start-up (the
relying party, the introspector, the policy book, the audit keys, the staff
login, the list importer, the back-channel logout receiver); this module is the only one that
reads them back. A handler's signature says what it needs::

    @router.post("/records/{record_id}/bank-account")
    async def correct_account(record_id: int, form: CsrfForm, staff: StaffCorrecting, ...) -> Response: ...

Guards raise: :class:`~shared.web.deps.Redirect` (to a login page),
:class:`~shared.web.deps.Refused` (an error page), :class:`StaffRefused`
(the agency's error page, with its navigation) or :class:`BearerRefused`
(the API's own JSON answer with its ``WWW-Authenticate`` challenge);
``create_app`` installs the handlers of the last two.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from services.refund_portal import messages
from services.refund_portal.admission import CONFIRM, READ, ScopeNeed, admitted
from services.refund_portal.agency.import_jobs import ImportJobs
from services.refund_portal.agency.imports import ListImporter
from services.refund_portal.api.bearer import ApiTokens, BearerRefused
from services.refund_portal.audit import Actor, AuditKeys
from services.refund_portal.login.backchannel import login_ended
from services.refund_portal.models import StaffAccount
from services.refund_portal.policy import PolicyBook
from services.refund_portal.records import RecordRows, UnitIdentity
from services.refund_portal.settings import RefundSettings
from services.refund_portal.staff import may
from shared.clock import Clock
from shared.oauth.client import RelyingParty
from shared.oauth.introspection import TokenIntrospector
from shared.staff_totp import StaffTotpLogin
from shared.trust import TrustLevel
from shared.web.deps import ClockDep, DbDep, KvDep, Redirect, Refused, SessionDep, from_state, get_settings

__all__ = [
    "AGENCY",
    "BearerRefused",
    "StaffRefused",
    "UnitLogin",
    "RefundSettingsDep",
    "RelyingPartyDep",
    "IntrospectorDep",
    "ApiTokensDep",
    "PoliciesDep",
    "RecordRowsDep",
    "AuditKeysDep",
    "StaffLoginDep",
    "ListImporterDep",
    "ImportJobsDep",
    "BackchannelLogoutDep",
    "ClientAddress",
    "CurrentUnit",
    "AdmittedUnit",
    "AdmittedUnitForm",
    "ReadToken",
    "ConfirmToken",
    "StaffViewing",
    "StaffImporting",
    "StaffAuditing",
    "StaffAction",
    "Importing",
    "Correcting",
    "Exporting",
    "Paying",
    "client_address",
    "require_token",
    "require_staff",
    "staff_action",
    "staff_actor",
]

AGENCY = "/agency"


# ---- the parts create_app put on app.state ---------------------------------


def client_address(request: Request) -> str:
    # Behind configured proxies uvicorn has already put the forwarded address here.
    return request.client.host if request.client else "-"


RefundSettingsDep = Annotated[RefundSettings, Depends(get_settings)]
RelyingPartyDep = Annotated[RelyingParty, Depends(from_state("rp"))]
IntrospectorDep = Annotated[TokenIntrospector, Depends(from_state("introspector"))]
ApiTokensDep = Annotated[ApiTokens, Depends(from_state("api_tokens"))]
PoliciesDep = Annotated[PolicyBook, Depends(from_state("policies"))]
RecordRowsDep = Annotated[RecordRows, Depends(from_state("record_rows"))]
AuditKeysDep = Annotated[AuditKeys, Depends(from_state("audit_keys"))]
StaffLoginDep = Annotated[StaffTotpLogin, Depends(from_state("staff_login"))]
ListImporterDep = Annotated[ListImporter, Depends(from_state("list_importer"))]
ImportJobsDep = Annotated[ImportJobs, Depends(from_state("import_jobs"))]
BackchannelLogoutDep = Annotated[Callable[[Request], Awaitable[Response]], Depends(from_state("backchannel_logout"))]
ClientAddress = Annotated[str, Depends(client_address)]


# ---- the unit logged in on this browser --------------------------------------


@dataclass(frozen=True)
class UnitLogin:
    """The unit as hrss_isso's verified ID token said (``claims``), at the
    level it received (``acr``)."""

    claims: dict[str, Any]
    acr: str | None

    @property
    def level(self) -> TrustLevel | None:
        return TrustLevel.from_acr(self.acr)

    @property
    def admitted(self) -> bool:
        return admitted(self.acr)

    @property
    def identity(self) -> UnitIdentity | None:
        return UnitIdentity.from_claims(self.claims)


async def current_unit(session: SessionDep, kv: KvDep) -> UnitLogin | None:
    """The session's unit login, if any. A login ended over the back channel
    (single logout) is gone here too."""
    if await run_in_threadpool(login_ended, kv, session):
        session.clear()
    unit = session.get("unit")
    return UnitLogin(claims=unit, acr=session.get("acr")) if unit else None


CurrentUnit = Annotated[UnitLogin | None, Depends(current_unit)]


async def admitted_unit(unit: CurrentUnit) -> UnitLogin:
    """A page only an admitted unit sees: anyone else goes to the home page."""
    if unit is None or not unit.admitted:
        raise Redirect("/")
    return unit


async def admitted_unit_form(unit: CurrentUnit) -> UnitLogin:
    """A form only an admitted unit may submit: anyone else is refused."""
    if unit is None or not unit.admitted:
        raise Refused(messages.DECISION_ERROR["not_admitted"], back_url="/")
    return unit


AdmittedUnit = Annotated[UnitLogin, Depends(admitted_unit)]
AdmittedUnitForm = Annotated[UnitLogin, Depends(admitted_unit_form)]


# ---- the API's bearer token --------------------------------------------------


def require_token(need: ScopeNeed) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The token's claims when it will do for ``need`` (:class:`~services.refund_portal.api.bearer.ApiTokens`)."""

    async def claims(request: Request, tokens: ApiTokensDep) -> dict[str, Any]:
        return await tokens.claims(request.headers, method=request.method, path=request.url.path, need=need)

    return claims


ReadToken = Annotated[dict[str, Any], Depends(require_token(READ))]
ConfirmToken = Annotated[dict[str, Any], Depends(require_token(CONFIRM))]


# ---- the agency's staff member -----------------------------------------------


class StaffRefused(Refused):
    """Refused to a logged-in staff member: the agency's error page, with the
    navigation their role allows."""

    def __init__(self, staff: StaffAccount, message: str, *, status_code: int = 403, back_url: str | None = None) -> None:
        super().__init__(message, status_code=status_code, back_url=back_url)
        self.staff = staff


def current_staff(session: SessionDep, db: DbDep) -> StaffAccount | None:
    """The active staff account this session logged in as (in a worker thread)."""
    info = session.get("staff")
    if not info:
        return None
    with db.transaction() as s:
        account = s.get(StaffAccount, info.get("id"))
        if account is None or not account.active:
            return None
        s.expunge(account)
        return account


def require_staff(permission: str) -> Callable[..., StaffAccount]:
    """The logged-in staff member if their role allows ``permission``
    (:data:`services.refund_portal.staff.PERMISSIONS`)."""

    def guard(request: Request, session: SessionDep, account: Annotated[StaffAccount | None, Depends(current_staff)]) -> StaffAccount:
        if account is None:
            session.pop("staff", None)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise Redirect(f"{AGENCY}/login?next={quote(target)}")
        if not may(account.role, permission):
            text = messages.STAFF_ERROR["forbidden"].format(role=messages.ROLE.get(account.role, account.role))
            raise StaffRefused(account, text)
        return account

    return guard


# One guard per permission: a handler that names both a StaffX and an
# XAction runs the guard once (FastAPI caches a dependency per request).
_GUARDS = {permission: require_staff(permission) for permission in ("view", "import", "correct", "export", "pay", "audit")}
StaffViewing = Annotated[StaffAccount, Depends(_GUARDS["view"])]
StaffImporting = Annotated[StaffAccount, Depends(_GUARDS["import"])]
StaffAuditing = Annotated[StaffAccount, Depends(_GUARDS["audit"])]


def staff_actor(account: StaffAccount, address: str) -> Actor:
    """The staff member as the audit log names them."""
    return Actor(kind="staff", id=account.login_name, name=account.display_name, address=address)


@dataclass(frozen=True)
class StaffAction:
    """A staff member doing something the audit log records: who (``staff``,
    and ``actor`` as the log names them), and the clock and keys the entry
    is written with."""

    staff: StaffAccount
    actor: Actor
    clock: Clock
    audit_keys: AuditKeys

    @property
    def audit(self) -> dict[str, Any]:
        """The keyword arguments every audited service function takes."""
        return {"actor": self.actor, "clock": self.clock, "audit_keys": self.audit_keys}


def staff_action(permission: str) -> Callable[..., StaffAction]:
    """:class:`StaffAction` of the logged-in staff member if their role allows ``permission``."""
    guard = _GUARDS[permission]

    # Depends() as the default, not in the annotation: the annotations are
    # strings here (postponed), and FastAPI resolves them among the module's
    # names, where ``guard`` is not.
    def action(address: ClientAddress, clock: ClockDep, audit_keys: AuditKeysDep, staff: StaffAccount = Depends(guard)) -> StaffAction:  # noqa: B008
        return StaffAction(staff=staff, actor=staff_actor(staff, address), clock=clock, audit_keys=audit_keys)

    return action


Importing = Annotated[StaffAction, Depends(staff_action("import"))]
Correcting = Annotated[StaffAction, Depends(staff_action("correct"))]
Exporting = Annotated[StaffAction, Depends(staff_action("export"))]
Paying = Annotated[StaffAction, Depends(staff_action("pay"))]
