"""The built-in file store and json serializer pass the conformance kit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from maverick_core.builtin.json import JsonSerializer
from maverick_core.testing.conformance import SerializerConformance, StoreConformance
from maverick_core.testing.platforms import AsOnMacOS

if TYPE_CHECKING:
    from maverick_core.engine.storage import Serializer


class TestFileStoreConformance(StoreConformance):
    @pytest.fixture
    def store_url(self) -> str:
        return "file:"


class TestFileStoreAtAbsolutePathConformance(StoreConformance):
    @pytest.fixture
    def store_url(self, tmp_path: pytest.TempPathFactory) -> str:
        return f"file://{tmp_path}/elsewhere"


class TestFileStoreConformanceOnMacOS(AsOnMacOS, StoreConformance):
    """The kit once more as on macOS: no os.fdatasync, F_FULLFSYNC, no /proc."""

    @pytest.fixture
    def store_url(self) -> str:
        return "file:"


class TestJsonSerializerConformance(SerializerConformance):
    @pytest.fixture
    def serializer(self) -> Serializer:
        return JsonSerializer()
