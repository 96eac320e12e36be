import pytest

import butler


@pytest.fixture
def b():
    return butler.Butler.demo(seed=7)


@pytest.fixture
def ana(b):
    return b.trusted_session("ana", ["requester"])


@pytest.fixture
def bea(b):
    return b.trusted_session("bea", ["approver"])


@pytest.fixture
def ops(b):
    return b.trusted_session("olga", ["operator"])
