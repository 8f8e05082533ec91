import contextlib
import io
import unittest

from calc import cli


class CliTest(unittest.TestCase):
    def test_add_prints_the_sum(self) -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(cli.main(["add", "2", "3"]), 0)
        self.assertEqual(out.getvalue(), "5\n")

    def test_unknown_operation_is_a_usage_error(self) -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(cli.main(["pow", "2", "3"]), 2)
