"""Dependency order: cycles and waves.

Edges are (service, depends_on): `depends_on` must be deployed first. A release's plan is the
graph restricted to the release's services, where a dependency through services outside the
release still counts (A → X → B with X not in the release makes B go before A): the release
deploys what it contains, but the order its contents need does not disappear because an
intermediate service has nothing to ship this time. Waves are the topological layers of that
graph (Kahn's algorithm, graphlib.TopologicalSorter): every service of a wave may deploy in
parallel once the waves before it are done."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from graphlib import CycleError, TopologicalSorter


def find_cycle(edges: Iterable[tuple[int, int]]) -> list[int] | None:
    """A cycle of the graph as a path [a, b, ..., a] (each needs the next first), or None."""
    sorter = TopologicalSorter()
    for service, depends_on in edges:
        sorter.add(service, depends_on)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = list(exc.args[1])  # graphlib: [n1, n2, ..., n1] where each is a predecessor of the next
        cycle.reverse()  # so each element needs the next one first
        return cycle
    return None


def release_graph(members: Iterable[int], edges: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
    """For each member, the members that must go before it: its dependencies, followed through
    non-members until a member is reached (see the module docstring)."""
    members = set(members)
    needs: dict[int, list[int]] = defaultdict(list)
    for service, depends_on in edges:
        needs[service].append(depends_on)
    before: dict[int, set[int]] = {}
    for member in members:
        found: set[int] = set()
        seen = {member}
        queue = deque(needs.get(member, ()))
        while queue:
            node = queue.popleft()
            if node in seen:
                continue
            seen.add(node)
            if node in members:
                found.add(node)  # stop here: its own prerequisites order it
            else:
                queue.extend(needs.get(node, ()))
        before[member] = found
    return before


def waves(before: dict[int, set[int]]) -> list[list[int]]:
    """Topological layers (Kahn): each wave holds the services whose prerequisites are all in
    earlier waves. Raises graphlib.CycleError on a cycle."""
    sorter = TopologicalSorter(before)
    sorter.prepare()
    layers = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        layers.append(ready)
        sorter.done(*ready)
    return layers
