"""DNS-1123 label validation and derived names (podnet.naming)."""

import pytest

from podnet.core.errors import EXIT_BAD_INPUT, InputError
from podnet.core.naming import (
    LAB_NAME_MAX,
    check_dns1123_label,
    check_lab_name,
    host_veth_name,
    netns_name,
    underlay_port_name,
)


@pytest.mark.parametrize("name", ["a", "node-1", "0", "pod-1-1", "a" * 63, "9abc-def0"])
def test_valid_labels_are_returned_unchanged(name):
    assert check_dns1123_label("node name", name) == name


@pytest.mark.parametrize(
    "bad",
    [
        "Node1",
        "node_1",
        "-node",
        "node-",
        "-",
        "a" * 64,
        "",
        "a;rm -rf /",
        "$(id)",
        "a b",
        "`id`",
        "a/b",
        "a.b",
        "a\tb",
        "ünïcode",
    ],
)
def test_invalid_labels_raise_input_error_naming_field_and_value(bad):
    with pytest.raises(InputError) as info:
        check_dns1123_label("pod name", bad)
    err = info.value
    assert err.field == "pod name"
    assert err.value == bad
    assert err.exit_code == EXIT_BAD_INPUT
    assert "pod name" in str(err)
    assert repr(bad) in str(err)


@pytest.mark.parametrize("bad", [None, 5, 1.0, ["a"], b"abc", True])
def test_non_strings_are_rejected(bad):
    with pytest.raises(InputError, match="non-empty string"):
        check_dns1123_label("node name", bad)


@pytest.mark.parametrize("bad", ["abc\n", "node-1\n", "\nabc"])
def test_embedded_newline_is_rejected(bad):
    # A name with a newline must never reach a netns or file name. (Python's "$" also
    # matches before a trailing newline, so re.match with "...$" lets "abc\n" through.)
    with pytest.raises(InputError):
        check_dns1123_label("node name", bad)


def test_too_long_label_message_gives_limit():
    with pytest.raises(InputError, match="no more than 63 characters"):
        check_dns1123_label("node name", "a" * 64)


def test_lab_name_max_is_40():
    assert LAB_NAME_MAX == 40
    assert check_lab_name("l" * 40) == "l" * 40
    with pytest.raises(InputError) as info:
        check_lab_name("l" * 41)
    assert info.value.field == "lab name"
    assert "40" in str(info.value)


def test_lab_name_uses_dns1123_rules():
    with pytest.raises(InputError, match="lab name"):
        check_lab_name("My_Lab")


def test_netns_name_is_lab_dash_name():
    assert netns_name("lab", "node-1") == "lab-node-1"


def test_host_veth_name_is_stable_and_short():
    sid = "f" * 64
    name = host_veth_name(sid)
    assert name == host_veth_name(sid)
    assert name.startswith("veth") and len(name) == 12
    int(name[4:], 16)  # 8 hex digits
    assert host_veth_name("e" * 64) != name


@pytest.mark.parametrize("index", [1, 9, 250])
def test_underlay_port_name_fits_ifnamsiz(index):
    name = underlay_port_name(index)
    assert len(name) <= 15
    assert name.endswith(f"eth{index}")
