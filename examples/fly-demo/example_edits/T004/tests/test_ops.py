import unittest

from calc import ops


class OpsTest(unittest.TestCase):
    def test_module_is_documented(self) -> None:
        self.assertTrue(ops.__doc__)

    def test_add(self) -> None:
        self.assertEqual(ops.add(2, 3), 5)

    def test_subtract(self) -> None:
        self.assertEqual(ops.subtract(5, 3), 2)
