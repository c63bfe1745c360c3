"""Responsible for the papermill engine upkeep executes runbooks with: papermill's nbclient
engine, with a client that keeps the run's output within its limit as each message arrives
(`upkeep.run.output_limit`), so a runbook that prints without end costs neither the runner's
memory nor gigabytes of evidence.

Imported only where a kernel runs: it imports papermill, nbclient and nbformat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_output
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

from upkeep.report import OUTPUT_CUT
from upkeep.run.kernels import DIED_AT_START
from upkeep.run.output_limit import OutputLimit, cut_note, output_size

__all__ = ["ENGINE_NAME"]

ENGINE_NAME = "upkeep"


class _LimitedClient(PapermillNotebookClient):
    """papermill's client, keeping outputs as `output_limit` decides and leaving a note in each
    cell that lost some."""

    def __init__(
        self,
        nb_man: Any,
        *,
        output_limit: OutputLimit,
        restart: Callable[[str], bool],
        **options: Any,
    ) -> None:
        super().__init__(nb_man, **options)
        self.output_limit = output_limit
        self.restart = restart  # asked whether a kernel that died while starting starts again
        self.restarted = False
        # Each cell's note of lost output and where it stands in the cell's outputs: looked up
        # for every message dropped, so never by scanning them.
        self.notes: dict[int, tuple[NotebookNode, int]] = {}

    async def async_start_new_kernel_client(self) -> Any:
        """The kernel's client, once it answers; a kernel that died before it answered is
        started again, once, with new ports (nbclient has shut the first one down)."""
        try:
            return await super().async_start_new_kernel_client()
        except RuntimeError as exc:
            if self.restarted or str(exc) != DIED_AT_START or not self.restart(DIED_AT_START):
                raise
        self.restarted = True
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel()
        return await super().async_start_new_kernel_client()

    # nbclient's sync name wraps the base class's coroutine: wrapped again, it calls this one.
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        content, dropped = self.output_limit.take(msg["msg_type"], msg["content"])
        out = None
        if content is not None:
            if content is not msg["content"]:
                msg = {**msg, "content": content}
            out = super().output(outs, msg, display_id, cell_index)
        if dropped:
            self._note(outs, cell_index, dropped, cut=content is not None)
        return out

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        """A display update (`DisplayHandle.update`, a second `display` with the same id)
        rewrites the kept outputs with that id in place: it is kept as `output_limit` decides,
        as any output is, or the outputs keep their last value and their cell says so."""
        places = [
            (cell_index, self.nb.cells[cell_index].outputs, at)
            for cell_index, indices in self._display_id_map.get(display_id, {}).items()
            for at in indices
            if at < len(self.nb.cells[cell_index].outputs)
        ]
        if not places:
            return super()._update_display_id(display_id, msg)
        old = sum(output_size("display_data", outs[at]) for _, outs, at in places)
        new = output_size("display_data", msg["content"]) * len(places)
        if self.output_limit.replace(old, new):
            return super()._update_display_id(display_id, msg)
        cell_index, outs, _ = places[-1]
        self._note(outs, cell_index, new, cut=False)
        return None

    def _note(self, outs: list[NotebookNode], cell_index: int, dropped: int, cut: bool) -> None:
        """Add `dropped` to the cell's note of lost output."""
        note, at = self.notes.get(cell_index, (None, -1))
        before = note.data[OUTPUT_CUT] if note is not None else {"dropped": 0, "cut": []}
        streams = list(before["cut"])
        if cut and outs and outs[-1].get("output_type") == "stream":
            streams.append(outs[-1]["name"])
        data = cut_note(before["dropped"] + dropped, self.output_limit.limit, streams)
        if note is None:
            note = new_output("display_data", data=data)
        else:
            note.data = data
        if not (0 <= at < len(outs) and outs[at] is note):  # new, or cleared by clear_output
            at = len(outs)
            outs.append(note)
        self.notes[cell_index] = (note, at)


class _LimitedEngine(NBClientEngine):
    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        *,
        output_limit: OutputLimit,
        restart: Callable[[str], bool] = lambda why: False,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        log_output: bool = False,
        input_path: str | None = None,
        **options: Any,
    ) -> Any:
        client = _LimitedClient(
            nb_man,
            output_limit=output_limit,
            restart=restart,
            kernel_name=kernel_name,
            startup_timeout=start_timeout,
            timeout=execution_timeout,
            log=logging.getLogger("papermill"),
            log_output=log_output,
            **options,
        )
        return client.execute()


papermill_engines.register(ENGINE_NAME, _LimitedEngine)
