"""jupyter_kernel_test conformance suite for paralelo-kernel (every attribute set)."""

import unittest

import jupyter_kernel_test as jkt
from jupyter_client.manager import start_new_kernel


class ParaleloKernelTests(jkt.KernelTests):
    @classmethod
    def setUpClass(cls) -> None:
        # The suite gives each request 15 s; the first cell of a new kernel may wait for
        # evcxr to start (longer on a slow or busy machine), so run one cell first.
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, startup_timeout=300)
        reply = cls.kc.execute_interactive("1 + 1", timeout=600, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply

    kernel_name = "paralelo"
    language_name = "rust"
    file_extension = ".rs"

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("an error line");'

    completion_samples = [
        {"text": "let variable_one = 1;\nvariable_o", "matches": {"variable_one"}},
        {"text": ":de", "matches": {":dep"}},
    ]

    complete_code_samples = ["1 + 1", "let x = 1;", "fn f(x: u32) -> u32 {\n    x * 2\n}"]
    incomplete_code_samples = ["fn f() {", "let v = vec![1,", 'let s = "open']
    invalid_code_samples = ["fn f() }", "let x = 1 )"]

    code_generate_error = 'let x: u32 = "not a number";'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "(1..=4).sum::<i32>()", "result": "10"},
        {"code": '"hola".to_uppercase()', "result": '"HOLA"'},
    ]

    code_display_data = [
        {"code": "display(6 * 7);", "mime": "text/plain"},
        {"code": 'display_mime(&[("text/plain", "x"), ("text/html", "<b>x</b>")]);',
         "mime": "text/html"},
    ]

    code_clear_output = "clear_output(false);"

    code_history_pattern = "6 * ?"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "par_map"

    # IPython's `?name`: the documentation goes to the pager (an execute_reply payload).
    code_page_something = "?par_map"


if __name__ == "__main__":
    unittest.main()
