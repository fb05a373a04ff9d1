"""Reference that would drift if written by hand, generated from its sources:

- docs/CONFIG.md from the config models (`Field(description=...)`) and the secrets registry;
- the chart table of docs/CHARTS.md from components/platform/charts.py;
- the cost and critical-path figures of docs/COST.md from tools.cost and tools.critical_path.

`python -m tools docs --write` rewrites them; `--check` (and tests/test_docs.py) exits 1 naming
every file that differs from what the generator prints.
"""

from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path
from typing import Any, Iterator, Optional

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from tools.stack_files import ROOT, available_stacks

BEGIN = "<!-- generated: python -m tools docs --write (tests/test_docs.py fails when this differs) -->"
END = "<!-- end of generated -->"
NAMESPACE = "tradesense"


def _model_of(annotation: Any) -> Optional[type[BaseModel]]:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is typing.Union:
        return " \\| ".join(_type_name(a) for a in args if a is not type(None))
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def config_rows(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str, str, Optional[str]]]:
    """(key, type, default, description) of every leaf field, in declaration order."""
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        sub = _model_of(field.annotation)
        if sub is not None:
            yield from config_rows(sub, key + ".")
        else:
            yield key, _type_name(field.annotation), _default(field), field.description


def config_md() -> str:
    from components.config import SECRETS, TradeSenseConfig

    lines = [
        "# Config reference",
        "",
        BEGIN,
        "",
        "Generated from the config models (`components/config.py`, `components/*/config.py`, `components/review.py`).",
        f"Every key lives under the `{NAMESPACE}` namespace; sections are structured config:",
        f"`pulumi config set --path '{NAMESPACE}:cluster.eks.nodes.max' 10`. Per-stack values: `Pulumi.<stack>.yaml`.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, type_, default, description in config_rows(TradeSenseConfig):
        lines.append(f"| `{key}` | {type_} | {default} | {description or ''} |")
    lines += [
        "",
        "## Secrets",
        "",
        "Always set from stdin (`pulumi config set --secret KEY` prompts without echo; `< FILE` for a file), never as an argument.",
        "",
        "| key | required | meaning | set with |",
        "|---|---|---|---|",
    ]
    for spec in SECRETS.values():
        required = ", ".join(sorted(spec.required_in)) or (f"with `{spec.required_by}` set" if spec.required_by else "optional")
        lines.append(f"| `{spec.full_key}` | {required} | {spec.purpose} | `{spec.set_command.split('  #')[0]}` |")
    lines += ["", "Generated and kept in state as secrets: the Postgres and Redis passwords, `JWT_SECRET_KEY`, the Grafana admin password.",
              "", END, ""]
    return "\n".join(lines)


def charts_table() -> str:
    from components.platform import charts

    lines = ["| chart | version | repository |", "|---|---|---|"]
    for value in vars(charts).values():
        if isinstance(value, charts.ChartRef):
            name = value.chart.rsplit("/", 1)[-1]
            lines.append(f"| {name} | {value.version} | {value.repo or value.chart.rsplit('/', 1)[0]} |")
    lines.append(f"| Gateway API CRDs (standard) | {charts.GATEWAY_API_VERSION} | vendored: `{charts.GATEWAY_API_CRDS_FILE}` (sha256 `{charts.GATEWAY_API_CRDS_SHA256[:12]}…`) |")
    return "\n".join(lines)


def cost_block() -> str:
    from tools import critical_path
    from tools.plan import build_plan
    from tools.review_stack import materialise, stack_name

    rows = ["| stack | USD per month | at the node maximum | EKS extended support (control plane) | deploy critical path |",
            "|---|---|---|---|---|"]
    chains = []
    plans = [(s, build_plan(s)) for s in available_stacks()]
    plans.append(("review environment (pr-1)", build_plan(stack_name(1), materialise(1, 1))))
    for label, result in plans:
        cost = result.cost
        path = critical_path.critical_path(critical_path.Graph.from_recording(result.recording))
        extended = f"{cost.extended_support_usd:,.2f}" if cost.extended_support_usd is not None else "n/a"
        rows.append(f"| {label} | {cost.total_usd:,.2f} | {cost.ceiling_usd:,.2f} | {extended} | {path.seconds / 60:.1f} min |")
        chains.append(f"- {label}: " + " -> ".join(f"`{n.name}`" for n in path.chain))
    return "\n".join([*rows, "", "Critical paths (longest weighted chain of the recorded dependency graph):", "", *chains])


def _replace_block(text: str, block: str, path: Path) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path.relative_to(ROOT)} lost its generated-block markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file's expected full text."""
    docs = root / "docs"
    out = {docs / "CONFIG.md": config_md()}
    for name, block in (("CHARTS.md", charts_table()), ("COST.md", cost_block())):
        path = docs / name
        out[path] = _replace_block(path.read_text(), block, path)
    return out


def stale(root: Path = ROOT) -> list[Path]:
    return [p for p, text in generated(root).items() if not p.exists() or p.read_text() != text]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools docs", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated files")
    mode.add_argument("--check", action="store_true", help="exit 1 naming every generated file that is out of date")
    args = parser.parse_args(argv)
    expected = generated()
    if args.write:
        for path, text in expected.items():
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    old = [p for p, text in expected.items() if not p.exists() or p.read_text() != text]
    for path in old:
        print(f"{path.relative_to(ROOT)} is out of date: run `python -m tools docs --write`", file=sys.stderr)
    return 1 if old else 0


if __name__ == "__main__":
    raise SystemExit(main())
