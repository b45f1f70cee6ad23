"""nbclient (the executor behind papermill and `jupyter nbconvert --execute`) runs notebooks
written as a user would, against the installed `paralelo` kernelspec.

`fixtures/user_session.ipynb` is run with nbclient's defaults, so any cell error other than
the cell tagged `raises-exception` stops the run, as it would for a user; each test then
checks what one part of the session left in the notebook. `fixtures/interrupt.ipynb` uses
`interrupt_on_timeout`: a long `par_map` is interrupted and the next cells still see the
variables of the first one.

Every wait is bounded: nbclient's per-cell and start-up timeouts, and run.sh runs this file
under `timeout`.
"""

import os
import re
import time
import unittest
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KERNEL = "paralelo"
# Generous bounds against hangs (the machine may be busy), not expectations of speed.
STARTUP_TIMEOUT = 300
CELL_TIMEOUT = 300
# The long cell of interrupt.ipynb would take hours; nbclient interrupts it after this many
# seconds from the execute request, which must include compiling the cell on a busy machine
# (an interrupt while the cell compiles restarts the runtime instead: a separate problem).
LONG_CELL_TIMEOUT = int(os.environ.get("PARALELO_NBCLIENT_LONG_CELL_TIMEOUT", "15"))


def run_notebook(name, **options):
    """Executes fixtures/NAME with nbclient; returns (notebook, CellExecutionError or None)."""
    nb = nbformat.read(FIXTURES / name, as_version=4)
    client = NotebookClient(
        nb, kernel_name=KERNEL, startup_timeout=STARTUP_TIMEOUT, **options
    )
    failure = None
    try:
        client.execute()
    except CellExecutionError as error:
        failure = error
    return nb, failure


def text_of(output):
    """The text an output shows in plain form."""
    if output["output_type"] == "stream":
        return output["text"]
    if output["output_type"] == "error":
        return f"{output['ename']}: {output['evalue']}"
    return output.get("data", {}).get("text/plain", "")


class NotebookChecks(unittest.TestCase):
    nb = None
    failure = None

    def cell(self, cell_id):
        """The executed cell with this id (fails if nbclient stopped before it)."""
        cell = next(c for c in self.nb.cells if c.get("id") == cell_id)
        if cell.get("execution_count") is None:
            self.fail(f"cell {cell_id!r} was not executed: nbclient stopped first:\n{self.failure}")
        return cell

    def outputs(self, cell_id, output_type):
        return [o for o in self.cell(cell_id).outputs if o["output_type"] == output_type]

    def stdout(self, cell_id):
        return "".join(o["text"] for o in self.outputs(cell_id, "stream") if o["name"] == "stdout")

    def result(self, cell_id):
        """The `text/plain` of the cell's execute_result, after checking the cell had no error."""
        self.assert_no_error(cell_id)
        results = self.outputs(cell_id, "execute_result")
        self.assertEqual(len(results), 1, f"cell {cell_id!r}: {self.cell(cell_id).outputs}")
        return results[0]["data"]["text/plain"]

    def assert_no_error(self, cell_id):
        errors = [text_of(o) for o in self.outputs(cell_id, "error")]
        self.assertEqual(errors, [], f"cell {cell_id!r} failed")


class UserSession(NotebookChecks):
    @classmethod
    def setUpClass(cls):
        cls.nb, cls.failure = run_notebook("user_session.ipynb", timeout=CELL_TIMEOUT)

    def test_runs_to_the_end(self):
        self.assertIsNone(self.failure, "nbclient stopped at a cell error")
        nbformat.validate(self.nb)
        code = [c for c in self.nb.cells if c.cell_type == "code"]
        self.assertEqual([c.execution_count for c in code], list(range(1, len(code) + 1)))

    def test_pool_lives_across_cells(self):
        self.assertEqual(self.result("pool"), "[0, 1, 4, 9, 16, 25]")
        self.assertEqual(self.result("pool-again"), "[1, 2, 5, 10, 17, 26]")

    def test_time_cell_with_question_mark(self):
        # IPython's %%time takes any cell: `?` works, the value is shown, `let`s are kept.
        self.assertEqual(self.result("time-cell"), "1498500")
        out = self.stdout("time-cell")
        self.assertRegex(out, r"CPU times: user .+, sys: .+, total: .+")
        self.assertRegex(out, r"Wall time: .+")
        self.assertEqual(self.result("time-kept"), "1000")

    def test_timeit(self):
        self.assert_no_error("timeit")
        self.assertRegex(
            self.stdout("timeit"),
            r"± .+ per loop \(mean ± std\. dev\. of \d+ runs?, [\d,]+ loops? each\)",
        )

    def test_timing_table_is_html(self):
        self.assert_no_error("table")
        (result,) = self.outputs("table", "execute_result")
        html = result["data"].get("text/html", "")
        self.assertIn("<table", html)
        self.assertIn("suma de cuadrados", html)
        self.assertIn("par_map", result["data"]["text/plain"])

    def test_panic_is_one_error_output(self):
        # As ipykernel: exactly one `error` output, carrying the panic message; no stderr.
        outputs = self.cell("panic").outputs
        self.assertEqual([o["output_type"] for o in outputs], ["error"], outputs)
        self.assertEqual(outputs[0]["ename"], "Panic")
        self.assertIn("index out of bounds", outputs[0]["evalue"])
        # The session goes on, with its pool.
        self.assertEqual(self.result("after-panic"), "[0, 10, 20]")

    def test_process_with_queue(self):
        self.assert_no_error("process-queue")
        self.assertEqual(self.stdout("process-queue"), "hola desde el hijo\nexitcode: Some(0)\n")

    def test_display_handle_update_replaces_the_output(self):
        # nbclient applies update_display_data to the output with the same display_id: one
        # display output, showing the last value.
        self.assert_no_error("progress")
        displays = self.outputs("progress", "display_data")
        self.assertEqual([d["data"]["text/plain"] for d in displays], ['"3 de 3"'])

    def test_lsmagic(self):
        self.assert_no_error("lsmagic")
        shown = "".join(text_of(o) for o in self.cell("lsmagic").outputs)
        for magic in ("%%time", "%time", "%%timeit", "%timeit", "%lsmagic"):
            self.assertIn(magic, shown)

    def test_only_the_tagged_cell_has_an_error(self):
        failing = [
            c.id for c in self.nb.cells
            if c.cell_type == "code" and any(o["output_type"] == "error" for o in c.outputs)
        ]
        self.assertEqual(failing, ["panic"])


class InterruptOnTimeout(NotebookChecks):
    @classmethod
    def setUpClass(cls):
        def timeout(cell):
            return LONG_CELL_TIMEOUT if cell.get("id") == "long" else CELL_TIMEOUT

        started = time.monotonic()
        cls.nb, cls.failure = run_notebook(
            "interrupt.ipynb", timeout_func=timeout, interrupt_on_timeout=True
        )
        cls.seconds = time.monotonic() - started

    def test_long_par_map_is_interrupted(self):
        # As in IPython (KeyboardInterrupt), the interrupted cell ends as one `error` output,
        # so nbclient and papermill know it did not finish: its `?` gets par_map's Interrupted.
        self.assertIsNone(self.failure)
        errors = self.outputs("long", "error")
        self.assertEqual(len(errors), 1, self.cell("long").outputs)
        self.assertRegex(text_of(errors[0]), re.compile("interrupt", re.IGNORECASE))
        # Cooperative: par_map stopped between tasks; the process was not restarted.
        self.assertNotIn("variables were lost", text_of(errors[0]))
        print(f"\ninterrupt.ipynb: {self.seconds:.1f} s (long cell interrupted after "
              f"{LONG_CELL_TIMEOUT} s)")

    def test_next_cells_see_the_first_cells_variables(self):
        self.assertEqual(self.result("after"), "42")
        self.assertEqual(self.result("pool-after"), "[41, 42, 43]")


if __name__ == "__main__":
    unittest.main()
