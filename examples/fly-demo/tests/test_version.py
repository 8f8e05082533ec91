import unittest

import calc


class VersionTest(unittest.TestCase):
    def test_version_is_set(self) -> None:
        self.assertEqual(calc.__version__, "0.1.0")
