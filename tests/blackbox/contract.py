"""The API contract (docs/openapi.yaml) held against every response the black-box tests receive.

harness.py installs `install()`, which wraps http.client: every response whose `Server` header is
`sandgate` (so not nginx's own answers in the cluster test) is checked when its body has been read:

- its route (method + path) must be described, or the answer must be one the document describes
  for requests outside any route (`x-sandgate-not-routed`: 404 for a path it does not list, 405
  for a method a listed path does not answer) or before routing (`x-sandgate-before-routing`);
- its status must be one the operation lists (or one of `x-sandgate-before-routing`);
- its content type must be one the response lists (or no body where it lists none);
- a JSON body must validate against the response's schema (JSON Schema 2020-12, python3-jsonschema).

A failure raises ContractError (an AssertionError) naming the method, path, status, the place in
the document and what failed; it is also remembered, and the process exits non-zero at the end if
any happened (so a failure inside a thread or a broad `except` still fails the test run).
Raw-socket tests (HTTP framing, slowloris, TLS handshakes) are outside: they send no HTTP a
client library would.

Requires python3-yaml and python3-jsonschema (scripts/install-deps.sh)."""
import atexit
import http.client
import json
import os
import sys
import threading
import urllib.parse

import jsonschema
import yaml

SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractError(AssertionError):
    pass


class _Loader(yaml.SafeLoader):
    pass


# As scripts/openapi-json.py: timestamps stay strings.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_spec(path=SPEC_PATH):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)


def _pointer(parts):
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Contract:
    def __init__(self, spec):
        self.spec = spec
        self.routes = []  # (segments, template) with the most literal segments first
        for template in spec["paths"]:
            segs = [s for s in template.split("/") if s]
            self.routes.append((segs, template))
        self.routes.sort(key=lambda r: -sum(1 for s in r[0] if not s.startswith("{")))
        self._validators = {}
        self._lock = threading.Lock()

    def resolve(self, node, seen=()):
        """The node with every local $ref replaced by its target ($ref with siblings becomes an
        allOf, which is what it means in JSON Schema 2020-12)."""
        if isinstance(node, list):
            return [self.resolve(x, seen) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                raise ContractError(f"OpenAPI document: unsupported or recursive $ref {ref}")
            target = self.spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            resolved = self.resolve(target, seen + (ref,))
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if not rest:
                return resolved
            out = self.resolve(rest, seen)
            out["allOf"] = [resolved] + out.get("allOf", [])
            return out
        return {k: self.resolve(v, seen) for k, v in node.items()}

    def match(self, path):
        """The templates matching a request path, most literal first (as the server's router:
        /api/v1/sandbox/report/quota before /api/v1/sandbox/report/{md5})."""
        segs = [s for s in urllib.parse.unquote(path).split("/") if s]
        out = []
        for tsegs, template in self.routes:
            if len(tsegs) == len(segs) and all(t.startswith("{") or t == s for t, s in zip(tsegs, segs)):
                out.append(template)
        return out

    def locate(self, method, path, status):
        """(response object, its JSON pointer, description of the route) or raises ContractError."""
        m = method.lower()
        key = str(status)
        before = self.spec.get("x-sandgate-before-routing", {})
        templates = self.match(path)
        for template in templates:
            op = self.spec["paths"][template].get(m)
            if op is None:
                continue
            route = f"{method} {template} ({op.get('operationId', '?')})"
            if key in op.get("responses", {}):
                return op["responses"][key], _pointer(["paths", template, m, "responses", key]), route
            if key in before:
                return before[key], _pointer(["x-sandgate-before-routing", key]), route
            raise ContractError(f"status {status} is not described for {route}: the document lists "
                                f"{sorted(op.get('responses', {}))} (add it under "
                                f"{_pointer(['paths', template, m, 'responses'])})")
        not_routed = self.spec.get("x-sandgate-not-routed", {})
        if templates:
            route = f"{method} {templates[0]} (no such operation: the path lists " \
                    f"{[x.upper() for x in self.spec['paths'][templates[0]] if x in METHODS]})"
            allowed = ("405",)
        else:
            route = f"{method} {path} (no path of the document matches)"
            allowed = ("404",)
        if key in allowed and key in not_routed:
            return not_routed[key], _pointer(["x-sandgate-not-routed", key]), route
        if key in before:
            return before[key], _pointer(["x-sandgate-before-routing", key]), route
        raise ContractError(f"route not described: {route} answered {status}; add the operation to "
                            f"docs/openapi.yaml")

    def check(self, method, path, status, headers, body):
        """Raises ContractError when the response breaks the contract."""
        try:
            response, where, route = self.locate(method, path, status)
        except ContractError as e:
            raise ContractError(f"OpenAPI contract: {method} {path} -> {status}: {e}") from None
        response = self.resolve(response)
        ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
        content = response.get("content") or {}
        prefix = f"OpenAPI contract: {method} {path} -> {status} [{route}; {where}]"
        if not body:
            return
        if ctype not in content:
            raise ContractError(f"{prefix}: a body of type '{ctype}' is not described "
                                f"(the document lists {sorted(content) or 'no body'})")
        if ctype != "application/json":
            return
        try:
            doc = json.loads(body)
        except ValueError:
            raise ContractError(f"{prefix}: the body is not JSON: {body[:200]!r}") from None
        schema = content[ctype].get("schema")
        if schema is None:
            raise ContractError(f"{prefix}: no schema for application/json")
        with self._lock:
            v = self._validators.get(where)
            if v is None:
                v = jsonschema.Draft202012Validator(schema)
                self._validators[where] = v
        errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            lines = []
            for e in errors[:5]:
                while e.context:  # anyOf/oneOf: the alternative that got deepest says most
                    e = max(e.context, key=lambda x: len(x.absolute_path))
                at = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in e.absolute_path)
                lines.append(f"  at {at}: {e.message[:300]} "
                             f"(schema: {'/'.join(map(str, e.absolute_schema_path))})")
            text = body if isinstance(body, str) else body.decode("utf-8", "replace")
            raise ContractError(f"{prefix}: the body does not match the schema:\n" + "\n".join(lines) +
                                f"\n  body: {text[:400]}")


_contract = None
_contract_lock = threading.Lock()
VIOLATIONS = []
CHECKED = [0]  # responses checked in this process (printed at exit)


def contract():
    global _contract
    with _contract_lock:
        if _contract is None:
            _contract = Contract(load_spec())
        return _contract


def check(method, path, status, headers, body):
    """Checks one response; headers is a dict with lower-case names."""
    if (headers.get("server") or "") != "sandgate":
        return
    try:
        with _contract_lock:
            CHECKED[0] += 1
        contract().check(method, urllib.parse.urlsplit(path).path, status, headers, body)
    except ContractError as e:
        VIOLATIONS.append(str(e))
        raise


def _report_at_exit():
    sys.stderr.write(f"contract: {CHECKED[0]} response(s) checked against docs/openapi.yaml, "
                     f"{len(VIOLATIONS)} broke it\n")
    if VIOLATIONS:
        sys.stderr.write(f"\n{len(VIOLATIONS)} response(s) broke the API contract (docs/openapi.yaml):\n")
        for v in VIOLATIONS:
            sys.stderr.write(v + "\n")
        sys.stderr.flush()
        os._exit(1)


_installed = False


def install():
    """Wraps http.client so that every response read in this process is checked."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_report_at_exit)
    putrequest = http.client.HTTPConnection.putrequest
    getresponse = http.client.HTTPConnection.getresponse
    read = http.client.HTTPResponse.read

    def putrequest_(self, method, url, *args, **kwargs):
        self._sandgate_request = (method, url)
        return putrequest(self, method, url, *args, **kwargs)

    def getresponse_(self):
        r = getresponse(self)
        r._sandgate_request = getattr(self, "_sandgate_request", None)
        r._sandgate_body = []
        return r

    def read_(self, amt=None):
        data = read(self, amt)
        req = getattr(self, "_sandgate_request", None)
        if req is None:
            return data
        self._sandgate_body.append(data)
        if amt is None or not data or self.fp is None:
            self._sandgate_request = None
            body = b"".join(self._sandgate_body)
            self._sandgate_body = []
            headers = {k.lower(): v for k, v in self.getheaders()}
            check(req[0], req[1], self.status, headers, body.decode("utf-8", "replace") if body else "")
        return data

    http.client.HTTPConnection.putrequest = putrequest_
    http.client.HTTPConnection.getresponse = getresponse_
    http.client.HTTPResponse.read = read_

