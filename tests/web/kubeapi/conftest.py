"""Fixtures of the kubectl tests: ``kubectl``, one per kubectl binary on the machine, pointed at
the ``lab`` fixture of the module that asks for it (each module brings up a lab of its own)."""

import pytest

from tests.support.kubectl import Kubectl, binaries

KUBECTLS = binaries()


@pytest.fixture(scope="module", params=KUBECTLS, ids=[b.version for b in KUBECTLS])
def kubectl(request, lab, tmp_path_factory):
    return Kubectl(request.param, lab.name, tmp_path_factory.mktemp("kubeconfig"))
