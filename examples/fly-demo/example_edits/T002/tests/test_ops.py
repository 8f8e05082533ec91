import unittest

from calc import ops


class OpsTest(unittest.TestCase):
    def test_module_is_documented(self) -> None:
        self.assertTrue(ops.__doc__)
