"""A picture of a network's structure as SVG: variables by role, arrows parent to child.

Written from the network itself (no layout library): hidden variables in columns by
their depth below the roots, findings in one column per role, each box coloured by
role. The same network always gives the same bytes, so a shipped picture can be
checked against the specification it was drawn from.
"""

from __future__ import annotations

from html import escape

from npprob.network.network import Network
from npprob.network.variable import Role

__all__ = ["network_svg"]

_BOX_W, _BOX_H, _ROW, _COL, _MARGIN, _HEAD = 190, 20, 26, 250, 20, 60
_COLOURS = {
    Role.HISTORY: "#4e79a7",
    Role.LESION_EVIDENCE: "#f28e2b",
    Role.SIGN: "#59a14f",
    Role.SYMPTOM: "#76b7b2",
    Role.CONTEXT: "#9c755f",
    Role.TARGET: "#e15759",
    Role.LATENT: "#bab0ac",
    Role.DERIVED: "#b07aa1",
    Role.UNSPECIFIED: "#cccccc",
}
#: Columns of the findings, left to right.
_FINDING_ROLES = (Role.LESION_EVIDENCE, Role.SIGN, Role.SYMPTOM)


def _depths(network: Network) -> dict[str, int]:
    depth: dict[str, int] = {}
    for name in network.names:  # topological order: parents first
        parents = network.parents(name)
        depth[name] = 1 + max((depth[p] for p in parents), default=-1)
    return depth


def network_svg(network: Network, *, title: str = "") -> str:
    """The network's structure as an SVG document (text).

    Examples
    --------
    >>> from npprob.network import Network, Variable
    >>> net = Network(
    ...     [Variable("nerve_damage", ("no", "yes"), role="latent"),
    ...      Variable("numbness", ("absent", "present"), role="sign")],
    ...     {"numbness": ["nerve_damage"]},
    ...     {"nerve_damage": [0.7, 0.3], "numbness": [[0.9, 0.1], [0.2, 0.8]]},
    ... )
    >>> svg = network_svg(net)
    >>> svg.count("<rect class='node'"), svg.count("<path class='edge'")
    (2, 1)
    """
    depth = _depths(network)
    columns: dict[int, list[str]] = {}
    findings = {v.name for v in network.variables if v.role in _FINDING_ROLES}
    hidden_depth = max((depth[n] for n in network.names if n not in findings), default=0)
    for name in network.names:
        role = network.variable(name).role
        col = hidden_depth + 1 + _FINDING_ROLES.index(role) if name in findings else depth[name]
        columns.setdefault(col, []).append(name)
    order = {r: k for k, r in enumerate(Role)}
    position: dict[str, tuple[int, int]] = {}
    for col, names in columns.items():
        names.sort(key=lambda n: (order[network.variable(n).role], n))
        for row, name in enumerate(names):
            x = _MARGIN + col * _COL
            y = _HEAD + row * _ROW
            position[name] = (x, y)
    width = _MARGIN * 2 + (max(columns) + 1) * _COL
    height = _HEAD + max(len(v) for v in columns.values()) * _ROW + 40
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='11'>",
        "<style>.edge{fill:none;stroke:#888;stroke-opacity:0.45}"
        ".node{stroke:#333;stroke-width:0.6}</style>",
        f"<text x='{_MARGIN}' y='22' font-size='14' font-weight='bold'>{escape(title)}</text>",
    ]
    legend_x = _MARGIN
    for role in Role:
        if not any(v.role == role for v in network.variables):
            continue
        out.append(
            f"<rect x='{legend_x}' y='32' width='12' height='12' fill='{_COLOURS[role]}'/>"
            f"<text x='{legend_x + 16}' y='42'>{escape(str(role))}</text>"
        )
        legend_x += 24 + 7 * len(str(role))
    for child in network.names:
        cx, cy = position[child]
        for parent in network.parents(child):
            px, py = position[parent]
            x1, y1, x2, y2 = px + _BOX_W, py + _BOX_H / 2, cx, cy + _BOX_H / 2
            mid = (x1 + x2) / 2
            out.append(f"<path class='edge' d='M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}'/>")
    for name in network.names:
        x, y = position[name]
        var = network.variable(name)
        states = ", ".join(var.states)
        out.append(
            f"<rect class='node' x='{x}' y='{y}' width='{_BOX_W}' height='{_BOX_H}' rx='4' "
            f"fill='{_COLOURS[var.role]}'><title>{escape(name)}: {escape(states)}</title></rect>"
            f"<text x='{x + 6}' y='{y + 14}'>{escape(name)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
