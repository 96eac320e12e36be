"""Every public function and method, fed wrong types, None, huge and
negative ints and huge strings: each call ends in an ordinary exception (or
succeeds), never in a Rust panic surfacing as ``PanicException``."""

import inspect

import pytest

import butler

HUGE_TEXT = "x" * (1 << 20)
HOSTILE = [
    None,
    -1,
    -(2**63),
    2**64,
    2**62,
    0,
    1.5,
    float("nan"),
    "",
    "\0",
    "\x1b[2J",
    HUGE_TEXT,
    b"bytes",
    [],
    [None],
    [HUGE_TEXT],
    {},
    object(),
]


def is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def arities(fn):
    """How many positional arguments to try: every count from the required
    ones to all of them, plus one too many."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return range(0, 4)
    params = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = sum(1 for p in params if p.default is p.empty)
    return range(required, len(params) + 2)


def keyword_names(fn):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [
        name
        for name, p in sig.parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
    ]


def world():
    b = butler.Butler.demo(seed=3)
    root = b.bootstrap_admin("root", "a long admin password")
    ana = b.trusted_session("ana", ["requester"])
    bea = b.trusted_session("bea", ["approver"])
    ops = b.trusted_session("olga", ["operator"])
    r = ana.create_request(butler.VmSpec.demo("web01"))
    names = b.simulator.generate_fleet(6, 2)
    g = ops.create_group_with_vms("drill", "c1-madrid", "c2-santiago", names)
    ops.refresh(g.id)
    report = ops.validate(g.id)
    objects = {
        "Butler": b,
        "root": root,
        "ana": ana,
        "bea": bea,
        "ops": ops,
        "Request": r,
        "VmSpec": butler.VmSpec.demo("web02"),
        "Catalog": butler.Catalog.demo(),
        "RateBook": butler.RateBook.demo(),
        "Simulator": b.simulator,
        "MigrationGroup": g,
        "ValidationReport": report,
        "Estimate": r.estimate,
    }
    return objects


def calls_of(obj):
    for name in dir(obj):
        if name.startswith("_"):
            continue
        try:
            attr = getattr(obj, name)
        except Exception:
            continue
        if callable(attr) and not isinstance(attr, type):
            yield name, attr


def attempt(fn, *args, **kwargs):
    """Calls fn; returns the panic if there was one."""
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - a panic is a BaseException
        if is_panic(exc) or isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return exc
    return None


def sweep(label, fn, panics):
    for n in arities(fn):
        for value in HOSTILE:
            exc = attempt(fn, *([value] * n))
            if exc is not None:
                panics.append(f"{label}({n} × {value!r:.20}): {exc!r:.200}")
    for kw in keyword_names(fn):
        for value in HOSTILE:
            required = [
                p
                for p in inspect.signature(fn).parameters.values()
                if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD
            ]
            exc = attempt(fn, *(["a"] * len(required)), **{kw: value})
            if exc is not None:
                panics.append(f"{label}({kw}={value!r:.20}): {exc!r:.200}")


def test_no_public_call_panics_on_hostile_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # hostile paths land in a scratch folder
    panics = []
    swept = 0
    for label, obj in world().items():
        for name, fn in calls_of(obj):
            sweep(f"{label}.{name}", fn, panics)
            swept += 1
    for name in ["Butler", "VmSpec", "Catalog", "RateBook", "validate"]:
        target = getattr(butler, name)
        sweep(f"butler.{name}", target, panics)
        for cname, fn in calls_of(target):
            if isinstance(inspect.getattr_static(target, cname, None), staticmethod) or cname in (
                "demo",
                "from_toml",
                "from_json",
                "from_path",
                "nutanix",
            ):
                sweep(f"butler.{name}.{cname}", fn, panics)
        swept += 1
    assert swept > 60, f"only {swept} callables found: the sweep lost its targets"
    assert panics == [], "\n".join(panics)


@pytest.mark.parametrize("field", ["name", "cores_per_socket", "ram_gib", "disks_gib", "nics", "special_requirement"])
def test_spec_fields_take_hostile_values_without_panic(b, ana, field):
    for value in HOSTILE:
        spec = butler.VmSpec.demo("web01")
        try:
            setattr(spec, field, value)
        except (TypeError, ValueError, OverflowError, AttributeError):
            continue
        exc = attempt(ana.create_request, spec)
        assert exc is None, f"{field}={value!r:.30}: {exc!r}"
        exc = attempt(butler.validate, spec, butler.Catalog.demo())
        assert exc is None, f"{field}={value!r:.30}: {exc!r}"
