"""Label and field selectors as the lab's API reads ``?labelSelector=`` and ``?fieldSelector=``
(podnet.web.kubeapi.selectors): equality, inequality, set membership, existence and their
comma-joined AND, field paths such as ``metadata.namespace`` and ``spec.nodeName``, a clear
SelectorError for what does not parse, and the metav1.Status objects errors are answered
with, worded as kube-apiserver words them."""

from __future__ import annotations

import pytest

from podnet.web.kubeapi.selectors import SelectorError, field_matcher, label_matcher, not_found, status

WEB = {"app": "web", "tier": "front", "env": ""}
DB = {"app": "db", "tier": "back"}
NONE: dict = {}


@pytest.mark.parametrize("selector, matches", [
    ("", [WEB, DB, NONE]),
    (None, [WEB, DB, NONE]),
    ("app=web", [WEB]),
    ("app==web", [WEB]),
    ("app!=web", [DB, NONE]),  # an absent key is "not web"
    ("app in (web, db)", [WEB, DB]),
    ("app in (web,cache)", [WEB]),
    ("app notin (web)", [DB, NONE]),  # an absent key is not in the set
    ("env", [WEB]),  # exists, even with an empty value
    ("!env", [DB, NONE]),
    ("env=", [WEB]),
    ("app in (web,db),tier!=back", [WEB]),
    ("app,tier=back", [DB]),
    (" app = web , tier = front ", [WEB]),
    ("app.kubernetes.io/name=x", []),
])
def test_label_selectors(selector, matches):
    match = label_matcher(selector)
    assert [labels for labels in (WEB, DB, NONE) if match(labels)] == matches


def test_a_qualified_key():
    assert label_matcher("app.kubernetes.io/name=web")({"app.kubernetes.io/name": "web"})


@pytest.mark.parametrize("selector", ["a=b c", "a in (x", "a>1", "a=b=c", "a in (x),,b=c", "=x", "a b"])
def test_a_malformed_label_selector_raises(selector):
    with pytest.raises(SelectorError, match="unable to parse requirement"):
        label_matcher(selector)


def test_not_with_an_operator_is_refused():
    with pytest.raises(SelectorError):
        label_matcher("!a=b")


def test_a_trailing_comma_is_refused():
    with pytest.raises(SelectorError):
        label_matcher("a=b,")


POD = {"metadata": {"name": "web-1", "namespace": "team"}, "spec": {"nodeName": "node-2"},
       "status": {"phase": "Running"}}
NODE = {"metadata": {"name": "node-2"}, "spec": {}, "status": {}}
EVENT = {"metadata": {"name": "web-1.1", "namespace": "team"}, "involvedObject": {"uid": "u-1", "kind": "Pod"}}


@pytest.mark.parametrize("selector, matches", [
    ("", [POD, NODE, EVENT]),
    ("metadata.name=web-1", [POD]),
    ("metadata.name==node-2", [NODE]),
    ("metadata.name!=web-1", [NODE, EVENT]),
    ("metadata.namespace=team", [POD, EVENT]),
    ("metadata.namespace=", [NODE]),  # cluster-scoped: the empty namespace
    ("spec.nodeName=node-2", [POD]),
    ("spec.nodeName=", [NODE, EVENT]),  # kubectl's "not scheduled" query
    ("status.phase=Running", [POD]),
    ("status.phase!=Running,metadata.namespace=team", [EVENT]),
    ("involvedObject.uid=u-1,involvedObject.kind=Pod", [EVENT]),
])
def test_field_selectors(selector, matches):
    match = field_matcher(selector)
    assert [o for o in (POD, NODE, EVENT) if match(o)] == matches


@pytest.mark.parametrize("selector", ["metadata.name", "metadata.name~x", "spec/nodeName=x"])
def test_a_malformed_field_selector_raises(selector):
    with pytest.raises(SelectorError, match=f"invalid selector: '{selector}'"):
        field_matcher(selector)


def test_status_is_a_metav1_status():
    assert status(400, "BadRequest", "nope") == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Failure", "message": "nope", "reason": "BadRequest",
                                                "code": 400}
    assert status(409, "AlreadyExists", "x", {"name": "a"})["details"] == {"name": "a"}


def test_not_found_in_the_core_group():
    assert not_found("pods", "x") == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": 'pods "x" not found', "reason": "NotFound",
                                      "details": {"name": "x", "kind": "pods"}, "code": 404}


def test_not_found_in_a_named_group_qualifies_the_resource():
    out = not_found("deployments", "web", "apps")
    assert out["message"] == 'deployments.apps "web" not found'
    assert out["details"] == {"name": "web", "kind": "deployments", "group": "apps"}
    assert (out["code"], out["reason"]) == (404, "NotFound")
