from __future__ import annotations

import pytest

from integration.authz.acl_kit import MeshTls


@pytest.fixture(scope="session")
def mesh_tls(tmp_path_factory: pytest.TempPathFactory) -> MeshTls:
    return MeshTls(tmp_path_factory.mktemp("acl"))
