"""The authorisation matrix engine: endpoints from each app, their declared rule, the
expected outcome per role × caller unit, and the verdict of a real response.

Rule of an endpoint: the `require_roles(...)` dependency found among its dependencies
(`allowed_roles`, kit.auth), or `current_principal` (any signed-in role), or nothing — then
it is public and must be in the explicit allow-list of the test.

Where: every fixture resource belongs to commune 30307 (Phường Long Xuyên, province 91), so
its unit path is ("30307", "91"). A caller may act on it when their unit is on that path
(kit.auth `Principal.covers`): own unit 30307 and the province 91 (the commune is its child)
yes; sibling commune 30316 and another province 01 no.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.kit.auth import Role, allowed_roles_of
from tests.security.openapi_bodies import synthesise

UNIT_PATH: tuple[str, ...] = ("30307", "91")
PROVINCE_PATH: tuple[str, ...] = ("91",)
CALLERS: dict[str, str] = {
    "own_unit": "30307",  # Phường Long Xuyên
    "province": "91",  # Tỉnh An Giang: the commune is its child unit
    "sibling_unit": "30316",  # Phường Châu Đốc, same province
    "other_province": "01",  # another province
}
AUTH_CODES = {"missing_token", "invalid_token", "role_not_allowed", "unit_not_allowed", "auth_not_configured"}


@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    path: str
    operation_id: str
    roles: frozenset[Role] | None  # None: public
    operation: dict[str, Any] = field(compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def _route_contexts(app: FastAPI) -> Iterator[Any]:
    try:  # FastAPI ≥ 0.16x includes routers lazily
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: plain routes
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def _roles(dependant: Any) -> frozenset[Role] | None:
    """Intersection of every role rule among the dependencies (None when there is none)."""
    found: list[frozenset[Role]] = []

    def walk(d: Any) -> None:
        for sub in d.dependencies:
            roles = allowed_roles_of(sub.call)
            if roles is not None:
                found.append(roles)
            walk(sub)

    walk(dependant)
    if not found:
        return None
    result = found[0]
    for roles in found[1:]:
        result &= roles
    return result


def discover(service: str, app: FastAPI) -> list[Endpoint]:
    """Every operation of the app's OpenAPI document with the rule its route declares."""
    doc = app.openapi()
    rules: dict[tuple[str, str], frozenset[Role] | None] = {}
    for ctx in _route_contexts(app):
        route = getattr(ctx, "original_route", ctx)
        if not isinstance(route, APIRoute):
            continue
        for method in ctx.methods or ():
            rules[(method.upper(), ctx.path_format)] = _roles(ctx.dependant)
    endpoints = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            key = (method.upper(), path)
            assert key in rules, f"{service}: {key} is in the OpenAPI document but no route declares it"
            endpoints.append(Endpoint(service, method.upper(), path, op.get("operationId", ""), rules[key], op))
    return endpoints


# ---- requests ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Value:
    """A value for a path/query parameter or body field, and the unit path of what it names."""

    value: Any
    unit_path: tuple[str, ...] | None = None


@dataclass
class Fixtures:
    """What one service's requests are filled with (resources of unit 30307 where scoped)."""

    params: dict[str, Value] = field(default_factory=dict)  # path and query parameters by name
    op_params: dict[tuple[str, str], Value] = field(default_factory=dict)  # (operation_id, name)
    body_fields: dict[str, Value] = field(default_factory=dict)  # JSON body fields by name, any depth
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # operation_id → {"json"|"data"/"files"}
    body_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # operation_id → unit path
    untargeted: set[str] = field(default_factory=set)  # operation_ids whose body names no unit resource
    markers: set[str] = field(default_factory=set)  # strings that identify unit-30307 resources


@dataclass
class Plan:
    method: str
    url: str
    params: dict[str, Any]
    kwargs: dict[str, Any]
    target: tuple[str, ...] | None  # unit path of the resource the request acts on
    path_target: bool  # the resource is named in the URL path


def plan(endpoint: Endpoint, doc: dict[str, Any], fx: Fixtures) -> Plan:
    url = endpoint.path
    query: dict[str, Any] = {}
    target: tuple[str, ...] | None = None
    path_target = False
    for param in endpoint.operation.get("parameters", []):
        name, where = param["name"], param["in"]
        value = fx.op_params.get((endpoint.operation_id, name)) or fx.params.get(name)
        if where == "path":
            if value is None:
                value = Value(synthesise(doc, param.get("schema", {})))
            url = url.replace("{" + name + "}", str(value.value))
            if value.unit_path is not None and target is None:
                target, path_target = value.unit_path, True
        elif where == "query":
            if value is None and param.get("required"):
                value = Value(synthesise(doc, param.get("schema", {})))
            if value is not None and (param.get("required") or (endpoint.operation_id, name) in fx.op_params):
                query[name] = value.value
    kwargs: dict[str, Any] = {}
    if endpoint.operation_id in fx.bodies:
        kwargs = dict(fx.bodies[endpoint.operation_id])
    else:
        content = endpoint.operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            overrides = {k: v.value for k, v in fx.body_fields.items()}
            body = synthesise(doc, content["application/json"].get("schema", {}), overrides)
            kwargs = {"json": body}
            if target is None and endpoint.method != "GET" and endpoint.operation_id not in fx.untargeted:
                target = _body_target(body, fx)
    if target is None and endpoint.operation_id in fx.body_targets:
        target = fx.body_targets[endpoint.operation_id]
    return Plan(endpoint.method, url, query, kwargs, target, path_target)


def _body_target(body: Any, fx: Fixtures) -> tuple[str, ...] | None:
    if isinstance(body, dict):
        for key, value in body.items():
            spec = fx.body_fields.get(key)
            if spec is not None and spec.unit_path is not None:
                return spec.unit_path
            nested = _body_target(value, fx)
            if nested is not None:
                return nested
    if isinstance(body, list):
        for item in body:
            nested = _body_target(item, fx)
            if nested is not None:
                return nested
    return None


# ---- expectations and verdicts --------------------------------------------------------------
class Expect(StrEnum):
    UNAUTHENTICATED = "401"
    ROLE_DENIED = "403 role"
    UNIT_DENIED = "deny unit"
    ALLOWED = "allow"


class Verdict(StrEnum):
    OK = "ok"
    UNEXPECTED_ALLOW = "UNEXPECTED ALLOW"
    LEAK = "LEAK"
    BAD_DENIAL = "BAD DENIAL"
    UNEXPECTED_DENY = "UNEXPECTED DENY"
    INCONCLUSIVE = "inconclusive"
    SERVER_ERROR = "server error"


@dataclass
class Cell:
    endpoint: Endpoint
    role: Role | None
    scope: str
    expect: Expect
    plan: Plan
    status: int = 0
    code: str = ""
    verdict: Verdict = Verdict.OK
    note: str = ""

    def row(self) -> str:
        role = self.role.value if self.role else "anonymous"
        return (f"{self.endpoint.label} | {role}@{self.scope} | expect {self.expect.value} | got {self.status} "
                f"{self.code} | {self.verdict.value} {self.note}").strip()


def expectation(endpoint: Endpoint, role: Role | None, caller_unit: str, plan: Plan) -> Expect:
    assert endpoint.roles is not None
    if role is None:
        return Expect.UNAUTHENTICATED
    if role not in endpoint.roles:
        return Expect.ROLE_DENIED
    if plan.target is not None and caller_unit not in plan.target:
        return Expect.UNIT_DENIED
    return Expect.ALLOWED


def _envelope(body: Any) -> tuple[bool, str]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        if isinstance(err.get("code"), str) and isinstance(err.get("message"), str):
            return True, err["code"]
    return False, ""


def judge(cell: Cell, status: int, text: str, content_type: str, markers: set[str]) -> None:
    """Set the cell's verdict from the response."""
    cell.status = status
    body: Any = None
    if "json" in content_type:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    has_envelope, code = _envelope(body)
    cell.code = code
    caller_unit = CALLERS[cell.scope]
    leaked = sorted(m for m in markers if m and m in text) if caller_unit not in UNIT_PATH else []
    if cell.expect is Expect.UNAUTHENTICATED:
        ok = status == 401 and has_envelope
        cell.verdict = Verdict.OK if ok else (Verdict.UNEXPECTED_ALLOW if status < 400 else Verdict.BAD_DENIAL)
    elif cell.expect is Expect.ROLE_DENIED:
        ok = status == 403 and code == "role_not_allowed"
        cell.verdict = Verdict.OK if ok else (Verdict.UNEXPECTED_ALLOW if status < 400 else Verdict.BAD_DENIAL)
    elif cell.expect is Expect.UNIT_DENIED:
        if status < 300 and body == [] and cell.plan.method in ("GET", "POST"):
            cell.verdict = Verdict.OK  # a list or search filtered to the caller's units: nothing shown
            cell.note = "filtered to nothing"
        elif status < 400:
            cell.verdict = Verdict.UNEXPECTED_ALLOW
        elif status in (401, 403, 404) and has_envelope:
            cell.verdict = Verdict.LEAK if leaked else Verdict.OK
        elif status in (401, 403, 404):
            cell.verdict = Verdict.BAD_DENIAL
        elif status >= 500:
            cell.verdict = Verdict.SERVER_ERROR
        else:  # 4xx other than a denial: checked before the unit (state, validation)
            cell.verdict = Verdict.INCONCLUSIVE
    else:
        if status == 401 or (status == 403 and code in AUTH_CODES):
            cell.verdict = Verdict.UNEXPECTED_DENY
        elif status >= 500:
            cell.verdict = Verdict.SERVER_ERROR
        elif status < 300 and leaked:
            cell.verdict = Verdict.LEAK
        else:
            cell.verdict = Verdict.OK
    if leaked and cell.verdict in (Verdict.LEAK, Verdict.UNEXPECTED_ALLOW):
        cell.note = f"shows {', '.join(leaked)}"
    elif cell.verdict is not Verdict.OK:
        cell.note = text[:160].replace("\n", " ")
