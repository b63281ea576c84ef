"""Reading the bedside screening tools of ``models/baselines.toml``."""

from __future__ import annotations

import os
from pathlib import Path

from npprob.errors import DataFileError
from npprob.io.tomlfile import read_toml
from npprob.network.network import Network
from npprob.network.screening import ScreeningTool

__all__ = ["load_tools"]


def load_tools(
    network: Network, path: str | os.PathLike[str] | None = None
) -> dict[str, ScreeningTool]:
    """Read the tool definitions and check every finding and state against ``network``.

    Raises
    ------
    DataFileError
        On invalid TOML, unknown findings or aetiologies, or missing fields.
    """
    from npprob.io.resources import baselines_path

    p = Path(path) if path is not None else baselines_path()
    data = read_toml(p, "tools file")
    aetiologies = set(network.variable("aetiology").states) if "aetiology" in network else set()
    tools = {}
    for key, body in data.get("tools", {}).items():
        where = f"{p}: tool '{key}'"
        missing = {"name", "cutoff", "items", "source", "tag"} - set(body)
        if missing:
            raise DataFileError(f"{where}: missing {sorted(missing)}.")
        try:
            cutoff = float(body["cutoff"])
        except (TypeError, ValueError):
            cutoff = float("nan")
        if not cutoff > 0 or cutoff == float("inf"):
            # The running score starts at 0 and is capped at the cut-off once the
            # negative items are in; a cut-off at or below 0 would call a record with
            # nothing positive a positive screen, and breaks that cap.
            raise DataFileError(
                f"{where}: 'cutoff' must be a finite number above 0, got {body['cutoff']!r}.",
                path=str(p),
            )
        items = []
        for k, item in enumerate(body["items"]):
            findings = tuple(item.get("any", ()))
            causes = tuple(item.get("aetiology", ()))
            for name in findings:
                if name not in network or network.variable(name).boolean_states is None:
                    raise DataFileError(
                        f"{where}, item {k + 1}: no two-state finding '{name}'.", path=str(p)
                    )
            for cause in causes:
                if cause not in aetiologies:
                    raise DataFileError(f"{where}, item {k + 1}: unknown aetiology '{cause}'.")
            if (not findings and not causes) or "points" not in item:
                raise DataFileError(
                    f"{where}, item {k + 1}: needs 'any' or 'aetiology', and 'points'."
                )
            items.append((findings, causes, float(item["points"])))
        tools[key] = ScreeningTool(
            key, str(body["name"]), cutoff, tuple(items),
            str(body["source"]), str(body["tag"]), str(body.get("reason", "")),
        )  # fmt: skip
    if not tools:
        raise DataFileError(f"{p}: no [tools.*] tables.")
    return tools
