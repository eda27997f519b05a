"""Placing training jobs on agents, and stopping them there.

Agents announce themselves with heartbeats (slots, GPUs). A waiting job — InProgress with no
agent — goes to the first agent with a free slot, first come first served across tuning jobs;
while none fits it shows SecondaryStatus `Pending`. Free slots are counted from the store (the
active jobs assigned to each agent), so a restart cannot make the scheduler forget a placement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from emulator.bus.base import Bus
from emulator.clock import Clock
from emulator.domain.commands import TuningEnded
from emulator.domain.events import (
    SILENT_SECONDS,
    AgentHeartbeat,
    Assignment,
    StopTraining,
    agent_topic,
    training_topic,
)
from emulator.domain.instances import gpus_of
from emulator.domain.jobs import TrainingJob
from emulator.domain.status import ACTIVE_TRAINING
from emulator.records import JobRecords
from emulator.store.sqlite import Store

log = logging.getLogger(__name__)

LOST_AGENT = (
    "InternalServerError: The agent running this training job ({}) stopped answering; the job "
    "was lost. A tuning job launches a replacement."
)
LOST_JOB = (
    "InternalServerError: Agent {} no longer runs this training job (it restarted?); the job "
    "was lost. A tuning job launches a replacement."
)

UNDELIVERED_BEATS = 6
"""An assignment its agent has not acknowledged (in a heartbeat's `assigned_until`) after this
many of its heartbeats never reached it: the agent restarted and lost it. Counted in heartbeats,
not seconds: a heartbeat may leave the agent while an assignment is still on its way, however
long that takes on a loaded machine (or in scaled virtual time), but not six times over."""

RESTOP_BEATS = 2
"""Heartbeats an agent may keep running a `Stopping` job after its stop was sent."""


@dataclass
class AgentInfo:
    agent: str
    host: str
    slots: int
    gpus: tuple[dict[str, object], ...] = ()
    last_seen: float = 0.0
    local: bool = False
    online: bool = True
    accept_gpu_types: bool = False
    instance: str = ""
    duplicate: str = ""
    """Set while two agent processes beat under this id: the other one's host, said so."""

    def fits(self, wanted_gpus: int, free_gpus: int) -> bool:
        """Whether a job asking for `wanted_gpus` can run here now."""
        if wanted_gpus == 0 or free_gpus >= wanted_gpus:
            return True
        return not self.gpus and self.accept_gpu_types


class Scheduler:
    def __init__(
        self,
        store: Store,
        records: JobRecords,
        bus: Bus,
        clock: Clock,
        endpoint: str = "",
    ) -> None:
        self.endpoint = endpoint
        """Our URL as agents should reach it (sent with each assignment)."""
        self.store = store
        self.records = records
        self.bus = bus
        self.clock = clock
        self.agents: dict[str, AgentInfo] = {}
        self._agent_of: dict[str, str] = {}
        self._beats: dict[str, int] = {}
        """Heartbeats received from each agent."""
        self._assigned_beat: dict[str, dict[str, int]] = {}
        """Agent -> job -> the agent's heartbeat count when the job was assigned there (or
        first judged), until a heartbeat shows it running."""
        self._stop_beat: dict[str, int] = {}
        """Job -> its agent's heartbeat count when a stop was last sent for it."""
        self._shown_pending: set[str] = set()
        """Waiting jobs already shown `Pending` (no agent had room for them)."""
        self._instances: dict[str, dict[str, tuple[str, float]]] = {}
        """Agent id -> its processes' instance tokens -> (host, last heartbeat)."""

    def _duplicate(self, beat: AgentHeartbeat) -> str:
        """Why `beat`'s id is used by two agent processes ("" if it is not): another
        instance beat under it within the last three heartbeat periods."""
        now = self.clock.now()
        seen = self._instances.setdefault(beat.agent, {})
        if not beat.online:
            seen.pop(beat.instance, None)
            return ""
        seen[beat.instance] = (beat.host, now)
        for instance, (_host, when) in list(seen.items()):
            if now - when > SILENT_SECONDS:
                del seen[instance]
        if len(seen) < 2:
            return ""
        hosts = ", ".join(sorted(host for host, _ in seen.values()))
        return (
            f"{len(seen)} agent processes use this id (hosts: {hosts}); give each its own "
            "--agent-id (the default differs per host and --work-dir)"
        )

    def on_heartbeat(self, beat: AgentHeartbeat) -> list[TrainingJob]:
        """Record an agent's heartbeat; returns its jobs it no longer runs (they were lost)."""
        current = self.agents.get(beat.agent)
        if (
            not beat.online
            and current is not None
            and current.online
            and beat.instance
            and current.instance
            and beat.instance != current.instance
        ):
            # A duplicate process's goodbye: the agent that holds this id is still online.
            self._instances.get(beat.agent, {}).pop(beat.instance, None)
            return []
        info = AgentInfo(
            agent=beat.agent,
            host=beat.host,
            slots=beat.slots,
            gpus=beat.gpus,
            last_seen=self.clock.now(),
            local=beat.host == "local",
            online=beat.online,
            accept_gpu_types=beat.accept_gpu_types,
            instance=beat.instance,
            duplicate=self._duplicate(beat),
        )
        if info.duplicate:
            log.error("agent id %r: %s", beat.agent, info.duplicate)
        self.agents[beat.agent] = info
        if not beat.online:
            return self.lose_agent_jobs(lambda a: a == beat.agent, LOST_AGENT.format(beat.agent))
        beats = self._beats[beat.agent] = self._beats.get(beat.agent, 0) + 1
        running = set(beat.running)
        placed = self.store.active_training_names(agent=beat.agent)
        counted = self._assigned_beat.setdefault(beat.agent, {})
        for ended in counted.keys() - set(placed):
            del counted[ended]
        suspects = []
        for name in placed:
            if name in running:
                counted.pop(name, None)
                continue
            row = self.store.get_training_job(name)
            # Lost: not running there though the agent got this assignment or a later one, or
            # the assignment never arrived (the agent restarted meanwhile, or a broker restart
            # lost it), counted in this agent's own heartbeats only. Strictly later: an
            # assignment sent before this one carries a time at most equal to this one's (equal
            # too when the clock reads the same twice, as a held virtual clock does), so only
            # a strictly later one proves this one was delivered.
            if row is not None and (
                beat.assigned_until > row.assigned_at
                or beats - counted.setdefault(name, beats) >= UNDELIVERED_BEATS
            ):
                suspects.append(row)
        lost_rows = self._lose(suspects, LOST_JOB.format(beat.agent))
        for row in lost_rows:
            counted.pop(row.name, None)
            self._stop_beat.pop(row.name, None)
        return lost_rows

    def forget_jobs(self) -> None:
        """Drop what is known of jobs (a reset removed them all); agents stay known."""
        self._agent_of.clear()
        self._assigned_beat.clear()
        self._stop_beat.clear()
        self._shown_pending.clear()

    def seen_job(self, job: str) -> None:
        """Any event about a job proves its agent alive (a busy agent's heartbeat may queue
        behind a flood of that job's log lines)."""
        agent = self._agent_of.get(job)
        if agent is None:
            row = self.store.get_training_job(job)
            agent = (row.agent or "") if row else ""
            self._agent_of[job] = agent
        info = self.agents.get(agent)
        if info is not None and info.online:
            info.last_seen = self.clock.now()

    def silent_agents(self) -> list[TrainingJob]:
        """Agents not heard from for 3 heartbeat periods are lost, with their jobs."""
        now = self.clock.now()
        silent = {
            a.agent for a in self.agents.values() if a.online and now - a.last_seen > SILENT_SECONDS
        }
        for agent in silent:
            self.agents[agent].online = False
        if not silent:
            return []
        return self.lose_agent_jobs(lambda a: a in silent, LOST_AGENT.format(", ".join(silent)))

    def free_capacity(self) -> dict[str, tuple[int, int]]:
        """(free slots, free GPUs) of every online agent, from the jobs assigned in the store."""
        placed = self.store.placements()
        free = {}
        for a in self.agents.values():
            if a.online:
                jobs, gpus = placed.get(a.agent, (0, 0))
                free[a.agent] = (a.slots - jobs, max(0, len(a.gpus) - gpus))
        return free

    def free_slots(self) -> dict[str, int]:
        return {a: slots for a, (slots, _gpus) in self.free_capacity().items()}

    async def launch(self, jobs: list[str]) -> None:
        """New jobs wait in the store; place them (and any other waiting job) now."""
        await self.place_waiting()

    async def freed(self) -> None:
        """Jobs ended and their slots are free: place what waits."""
        await self.place_waiting()

    async def tuning_ended(self, ended: TuningEnded) -> None:
        """Nothing to do: a tuning job ends only once its training jobs have (their slots
        were freed then)."""

    async def place_waiting(self) -> None:
        """Give every waiting job a free slot (and the GPUs it asks for), oldest first; those
        that find none show `Pending`. Asked on every heartbeat and every ended job, so while
        no agent has room, a job already shown `Pending` is not even read."""
        waiting = self.store.waiting_training_names()
        self._shown_pending.intersection_update(waiting)
        if not waiting:
            return
        free = self.free_capacity()
        for name in waiting:
            if name in self._shown_pending and not any(s > 0 for s, _ in free.values()):
                continue
            row = self.store.get_training_job(name)
            if row is None:
                continue
            wanted = gpus_of(row.doc)
            agent = next(
                (
                    a
                    for a, (slots, gpus) in free.items()
                    if slots > 0 and self.agents[a].fits(wanted, gpus)
                ),
                None,
            )
            if agent is None:
                if row.doc["SecondaryStatus"] == "Starting":
                    self.records.move(row, "Pending")
                self._shown_pending.add(name)
                continue
            slots, gpus = free[agent]
            free[agent] = (slots - 1, gpus - min(gpus, wanted))
            self._shown_pending.discard(name)
            await self._assign(row, agent)

    async def _assign(self, row: TrainingJob, agent: str) -> None:
        row.agent = agent
        row.assigned_at = self.clock.now()
        self._agent_of[row.doc["TrainingJobName"]] = agent
        counted = self._assigned_beat.setdefault(agent, {})
        counted[row.doc["TrainingJobName"]] = self._beats.get(agent, 0)
        if row.doc["SecondaryStatus"] == "Pending":
            self.records.move(row, "Starting", "Preparing the instances for training")
        else:
            self.store.update_training_job(row)
        event = Assignment(
            ts=self.clock.now(),
            agent=agent,
            job=row.doc["TrainingJobName"],
            spec=row.doc,
            endpoint=self.endpoint,
        )
        await self.bus.publish(agent_topic(agent, "assignments"), event)

    async def stop(self, name: str) -> TrainingJob | None:
        """Stop a job wherever it is: on its agent, or, before it ever reached one, here and
        now (then the job, ended, is returned)."""
        row = self.store.get_training_job(name)
        if row is None or row.doc["TrainingJobStatus"] not in ACTIVE_TRAINING:
            return None
        if row.agent:
            await self._send_stop(row)
            return None
        if self.records.move(row, "Stopped", "Stopped before an instance was assigned"):
            return row
        return None

    async def _send_stop(self, row: TrainingJob) -> None:
        name, agent = row.name, str(row.agent)
        reason = row.stop_reason or "user"
        self._stop_beat[name] = self._beats.get(agent, 0)
        await self.bus.publish(
            training_topic(name, "stop"), StopTraining(ts=self.clock.now(), job=name, reason=reason)
        )

    async def stop_again(self, beat: AgentHeartbeat) -> None:
        """Send the stop again for jobs an agent still runs though the store says `Stopping`
        and no stop went out for RESTOP_BEATS of its heartbeats: a control plane that died
        between storing `Stopping` and publishing the stop (the agent ignores repeats)."""
        running = set(beat.running)
        if not running:
            return
        beats = self._beats.get(beat.agent, 0)
        stopping = self.store.training_jobs(statuses=("Stopping",))
        names = {row.doc["TrainingJobName"] for row in stopping}
        for ended in [n for n in self._stop_beat if n not in names]:
            del self._stop_beat[ended]
        for row in stopping:
            name = row.doc["TrainingJobName"]
            if row.agent != beat.agent or name not in running:
                continue
            if beats - self._stop_beat.get(name, beats - RESTOP_BEATS) >= RESTOP_BEATS:
                await self._send_stop(row)

    def lose_agent_jobs(
        self, agent_is_lost: Callable[[str], bool], reason: str
    ) -> list[TrainingJob]:
        """End as failed (retryable) every active job on agents that are gone."""
        return self.lose_jobs(
            lambda row: bool(row.agent) and agent_is_lost(str(row.agent)),
            reason,
        )

    def lose_jobs(self, is_lost: Callable[[TrainingJob], bool], reason: str) -> list[TrainingJob]:
        """End as failed (retryable: a tuning job replaces them) the active jobs `is_lost` picks."""
        return self._lose([row for row in self._active() if is_lost(row)], reason)

    def _lose(self, rows: list[TrainingJob], reason: str) -> list[TrainingJob]:
        """End `rows` (active jobs) as failed, retryable; those that were still active."""
        lost = []
        for row in rows:
            row.retryable = True
            row.doc["FailureReason"] = reason
            if self.records.move(row, "Failed", reason):
                lost.append(row)
        return lost

    def _active(self) -> list[TrainingJob]:
        return self.store.training_jobs(statuses=ACTIVE_TRAINING)
