"""The `fifo` rule of `genscale sim`, written again on SimGrid (Debian's python3-simgrid),
as an independent engine to check the simulator's schedules against.

Run by Debian's own python3 (SimGrid is a system package):

    python3 tests/simgrid_fifo.py TRACE.json NODES CORES > SCHEDULE.json

TRACE.json: {"tasks": [{"id", "workflow", "arrival", "parents": [ids], "threads", "wall"}]}
in each workflow's plan order. The platform is NODES hosts of CORES cores at 1 flop/s. A
scheduler actor keeps the ready tasks and each host's free cores; a task of t threads that
it starts becomes t actors on its host, each computing `wall` flops on a core of its own
(the scheduler never gives a host more threads than cores, so each runs at full speed);
the last to finish tells the scheduler. The order is the engine's: earlier workflows first,
then plan order; ready tasks start in that order wherever they fit (the first host in order
with the cores), and a later one may start where an earlier one does not fit. Prints each
task's host and start and end, as SimGrid's clock gave them.
"""

from __future__ import annotations

import json
import sys

import simgrid as sg


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        trace = json.load(handle)
    nodes, cores = int(sys.argv[2]), int(sys.argv[3])
    engine = sg.Engine(["simgrid_fifo", "--log=root.thresh:critical"])
    zone = sg.NetZone.create_full_zone("cluster")
    hosts = []
    for k in range(nodes):
        host = zone.create_host(f"node{k}", 1.0)
        host.core_count = cores
        hosts.append(host.seal())
    zone.seal()
    tasks = trace["tasks"]
    by_id = {t["id"]: t for t in tasks}
    first: dict[str, tuple[float, int]] = {}
    for i, t in enumerate(tasks):
        first.setdefault(t["workflow"], (t["arrival"], i))
    # workflows by arrival (ties as listed), then each task's place in its workflow's plan
    order = {w: n for n, w in enumerate(sorted(first, key=first.__getitem__))}
    place: dict[str, int] = {}
    rank = {}
    for t in tasks:
        place[t["workflow"]] = place.get(t["workflow"], -1) + 1
        rank[t["id"]] = (order[t["workflow"]], place[t["workflow"]])
    children: dict[str, list[str]] = {t["id"]: [] for t in tasks}
    for t in tasks:
        for p in t["parents"]:
            children[p].append(t["id"])
    result: dict[str, dict] = {}
    done_box = sg.Mailbox.by_name("done")

    def thread(task_id: str, flops: float, left: list[int]) -> None:
        sg.this_actor.execute(flops)
        left[0] -= 1
        if left[0] == 0:
            # back to the scheduler's host (moving is instant): a message between hosts
            # would need a network, which this platform leaves out
            sg.this_actor.set_host(hosts[0])
            done_box.put(task_id, 0)

    def scheduler() -> None:
        free = [cores] * nodes
        pending = {t["id"]: len(t["parents"]) for t in tasks}
        arrivals = sorted({(t["arrival"], t["id"]) for t in tasks if not t["parents"]})
        ready: list[str] = []
        finished = 0
        while finished < len(tasks):
            now = sg.Engine.clock
            while arrivals and arrivals[0][0] <= now + 1e-12:
                ready.append(arrivals.pop(0)[1])
            ready.sort(key=rank.__getitem__)
            waiting = []
            for task_id in ready:
                need = min(by_id[task_id]["threads"], cores)
                host = next((k for k in range(nodes) if free[k] >= need), None)
                if host is None:
                    waiting.append(task_id)
                    continue
                free[host] -= need
                result[task_id] = {"node": host, "start": now}
                left = [need]
                for j in range(need):
                    sg.Actor.create(f"{task_id}-{j}", hosts[host], thread, task_id,
                                    float(by_id[task_id]["wall"]), left)
            ready = waiting
            comm, data = done_box.get_async()
            try:
                if arrivals:
                    comm.wait_until(arrivals[0][0])
                else:
                    comm.wait()
            except sg.TimeoutException:
                comm.cancel()
                continue
            task_id = data.get()
            finished += 1
            result[task_id]["end"] = sg.Engine.clock
            free[result[task_id]["node"]] += min(by_id[task_id]["threads"], cores)
            for child in children[task_id]:
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)

    sg.Actor.create("scheduler", hosts[0], scheduler)
    engine.run()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
