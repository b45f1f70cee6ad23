"""jupyter_kernel_test again, with a second sample set unlike ours in test_paralelo.py.

The error sample is a panic: ipykernel sends exactly one `error` message for a failing
cell, and so must we (the panic's text belongs in that error, not also on stderr). The
other samples are what a user types: `?` on a parallel map, rich displays of the timing
table, a method completion, a history search that matches one distinct cell.
"""

import unittest

import test_paralelo


class OtherSamplesTests(test_paralelo.ParaleloKernelTests):
    code_hello_world = 'println!("{}", ["hello", "world"].join(", "));'
    code_stderr = 'eprint!("warning: {} left\\n", 3);'

    completion_samples = [
        {"text": "let cantidad_total = 5;\ncantidad_t", "matches": {"cantidad_total"}},
        {"text": "struct PuntoDeControl;\nlet p = PuntoDeC", "matches": {"PuntoDeControl"}},
    ]

    complete_code_samples = [
        "par_map(|x: u64| x + 1, 0..4u64)?",
        "#[derive(Debug)]\nstruct Punto {\n    x: i32,\n}",
        "%%time\nlet n = 3;",
    ]
    incomplete_code_samples = ["let v = par_map(|x: u64| {", "struct Punto {", "if true {\n    1"]
    invalid_code_samples = ["let x = (1, 2));", "fn f() -> u32 { 1 }}"]

    code_generate_error = 'panic!("boom");'

    code_execute_result = [
        {"code": "par_map(|x: u64| x * 2, 0..4u64)?", "result": "[0, 2, 4, 6]"},
        {"code": 'format!("{}-{}", "a", 1)', "result": '"a-1"'},
        {"code": "Some(3u8).map(|n| n + 1)", "result": "Some(4)"},
        {"code": 'TimingTable::new("sin filas")', "mime": "text/html"},
    ]

    code_display_data = [
        {"code": "display(vec![1, 2, 3]);", "mime": "text/plain"},
        {"code": 'display(&TimingTable::new("vacía"));', "mime": "text/html"},
        {"code": 'let h = display("0 %");\nh.update("100 %");', "mime": "text/plain"},
    ]

    code_clear_output = 'println!("antes");\nclear_output(true);'

    # Glob, as IPython's history search: matches only the first execute_result sample.
    code_history_pattern = "par_map(*"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Pool"
    code_page_something = "?TimingTable"


if __name__ == "__main__":
    unittest.main()
