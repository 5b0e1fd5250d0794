"""``podnet web``'s page in a real headless Chromium, on a real lab: the figure (every node and
Pod with its address and status), a Pod replaced live, traces from a terminal and from the
page drawn hop by hop in their kind's colour with the DNAT named, the read-only page, the
matrix, projector mode; screenshots of each view go to $PODNET_TEST_ARTIFACTS.

The lab has /29 node slices and maxPods 7, so node-3 holds Running, ContainerCreating (no IP
left) and Pending (maxPods) Pods at once. Servers are child processes ended by their PID."""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.support.labs import Lab, masquerade_in_node, probe_json, trace
from tests.support.processes import PODNET, REPO, TOPOLOGIES, explain, podnet, wait_until

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("web-browser")]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = os.environ.get("PODNET_TEST_ARTIFACTS", "/tmp/podnet-test-artifacts")
STUCK = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 5
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeName: node-3
      containers: [{name: shell, image: busybox}]
"""
FOUR_KINDS = [("client", "pod-3-2", "Pod-to-Pod"), ("client", "web:80", "Pod-to-Service"),
              ("external", "node-2:30080", "External-to-Service"), ("client", "internet:80", "Pod-to-external")]


class PageServer:
    """``python -m podnet web --port 0 -o json`` as a child; its URL; stopped by its PID."""

    def __init__(self, lab: str, log_dir, *args: str):
        self.log = open(os.path.join(log_dir, f"web-{secrets.token_hex(2)}.err"), "w+", encoding="utf-8")
        self.proc = subprocess.Popen([*PODNET, "web", "--name", lab, "--port", "0", "-o", "json", *args], cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise AssertionError(f"podnet web did not start: {open(self.log.name, encoding='utf-8').read()}")
        self.url = json.loads(line)["url"]

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(self.url.rstrip("/") + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.proc.stdout.close()
        self.log.close()


# -- fixtures: one browser, one lab, two servers per module --------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(f"the browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors (a CSP violation is one)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def web_lab(browser, tmp_path_factory):
    lab = Lab(f"wb-{secrets.token_hex(3)}")
    stuck = tmp_path_factory.mktemp("browser") / "stuck.yaml"
    stuck.write_text(STUCK, encoding="utf-8")
    try:
        lab.up("--nodes", "3", "--node-cidr-mask-size", "29", "--max-pods", "7",
               "-f", str(TOPOLOGIES / "workloads" / "web.yaml"))
        applied = podnet("apply", "-f", str(stuck), "--name", lab.name)
        assert applied.returncode == 0, explain(applied)
        yield lab
    finally:
        result = lab.down()
        assert result.returncode == 0, explain(result)


@pytest.fixture(scope="module")
def readonly(web_lab, tmp_path_factory):
    server = PageServer(web_lab.name, tmp_path_factory.mktemp("web-ro"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def acting(web_lab, tmp_path_factory):
    server = PageServer(web_lab.name, tmp_path_factory.mktemp("web-rw"), "--allow-actions")
    yield server
    server.stop()


# -- helpers --------------------------------------------------------------------------------------

def wait_js(driver, script: str, what: str, timeout: float = 20, *args):
    """Poll ``script`` (a function body returning a value) until it is truthy; return it."""
    return wait_until(lambda: driver.execute_script(script, *args), timeout, 0.05, what)


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait_js(driver, "return document.body.dataset.rendered === '1' && document.body.dataset.activity !== undefined",
            f"the page at {url} to draw the figure")


def shot(driver, name: str) -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(path)
    return path


def click(driver, selector: str) -> None:
    """A real click on the element (scrolled into view first)."""
    element = driver.find_element("css selector", selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def page_pods(driver) -> dict[str, tuple[str, str]]:
    found = driver.execute_script("""
        const out = {};
        for (const g of document.querySelectorAll('g.pod')) out[g.dataset.name] = [g.dataset.ip, g.dataset.status];
        return out;""")
    return {name: tuple(value) for name, value in found.items()}


def pod_look(driver, status: str) -> dict:
    return driver.execute_script("""
        const g = document.querySelector(`g.pod[data-status="${arguments[0]}"]`);
        const st = getComputedStyle(g.querySelector('rect'));
        return {stroke: st.stroke, fill: st.fill, dash: st.strokeDasharray, title: g.querySelector('title').textContent};
        """, status)


def drawn_path(driver, after: str | None, kind: str | None = None) -> dict:
    """Wait until a path other than activity ``after`` is drawn (of ``kind``); its attributes."""
    script = """
        const p = document.querySelector('#path');
        if (!p || p.dataset.activity === arguments[0] || (arguments[1] && p.dataset.kind !== arguments[1])) return null;
        return {id: p.dataset.activity, kind: p.dataset.kind, colour: p.dataset.colour,
                stroke: getComputedStyle(p.querySelector('.path-line')).stroke,
                hops: p.querySelectorAll('.hop').length, rows: document.querySelectorAll('#hops tbody tr').length,
                rewrites: [...p.querySelectorAll('.rewrite')].map((b) => b.textContent)};"""
    return wait_js(driver, script, f"a {kind or ''} path to be drawn", 20, after, kind)


def current_path_id(driver) -> str | None:
    return driver.execute_script("const p = document.querySelector('#path'); return p ? p.dataset.activity : null;")


# -- the tests ------------------------------------------------------------------------------------

def test_every_node_and_pod_is_drawn_with_its_address_and_status(browser, web_lab, readonly):
    open_page(browser, readonly.url)
    names = browser.execute_script("return [...document.querySelectorAll('g.node')].map((g) => g.dataset.name)")
    nodes = web_lab.nodes()
    assert sorted(names) == sorted(nodes)
    cli = {**web_lab.pods(), **web_lab.system_pods()}
    expected = {name: (item["status"].get("podIP") or "", item["podnet"]["status"]) for name, item in cli.items()}
    assert page_pods(browser) == expected
    statuses = {status for _ip, status in expected.values()}
    assert {"Running", "ContainerCreating", "Pending"} <= statuses, statuses
    running, creating, pending = (pod_look(browser, s) for s in ("Running", "ContainerCreating", "Pending"))
    assert len({(x["stroke"], x["fill"], x["dash"]) for x in (running, creating, pending)}) == 3
    assert pending["dash"] not in ("none", "") and running["dash"] in ("none", "")
    assert "url(" in creating["fill"] and "no IP addresses available" in creating["title"]
    click(browser, 'g.pod[data-status="ContainerCreating"] .pod-name')
    details = browser.find_element("css selector", "#details").text
    assert "ContainerCreating" in details and "no IP addresses available" in details and "default/stuck" in details
    click(browser, 'g.node[data-name="node-1"] .node-name')
    routes = browser.find_element("css selector", "#routes").text
    for name in ("node-2", "node-3"):
        node = nodes[name]
        address = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        assert f"{node['spec']['podCIDR']} via {address}" in routes, routes
    shot(browser, "browser-figure-statuses.png")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # no script error, no Content-Security-Policy violation


def test_a_deleted_pod_is_replaced_on_the_page_without_a_reload(browser, web_lab, readonly):
    open_page(browser, readonly.url)
    click(browser, 'g.node[data-name="node-1"] .node-name')
    browser.execute_script("window.__sameDocument = 'yes'")
    before = web_lab.pods()
    old = next(n for n, p in before.items() if n.startswith("web-") and p["spec"]["nodeName"] == "node-1")
    version = browser.execute_script("return document.body.dataset.version")
    deleted = podnet("delete", "pod", old, "--name", web_lab.name)
    assert deleted.returncode == 0, explain(deleted)
    new = wait_until(lambda: [n for n in web_lab.pods() if n.startswith("web-") and n not in before], 20, 0.1,
                     "the Deployment to replace the Pod")[0]
    ip = web_lab.pod_ip(new)
    wait_js(browser, "return !document.querySelector(`g.pod[data-name='${arguments[0]}']`) && "
                     "document.querySelector(`g.pod[data-name='${arguments[1]}']`)?.dataset.ip === arguments[2]",
            "the old Pod to go and its replacement to appear", 20, old, new, ip)
    assert ip != before[old]["status"]["podIP"]
    assert browser.execute_script("return window.__sameDocument") == "yes"
    assert browser.execute_script("return document.body.dataset.version") != version
    assert browser.execute_script("return document.querySelector('g.node.selected')?.dataset.name") == "node-1"
    if web_lab.pods()[new]["spec"]["nodeName"] == "node-1":  # the selected node's details follow the change
        assert new in browser.find_element("css selector", "#details").text


def test_a_trace_from_a_terminal_is_drawn_and_names_the_dnat(browser, web_lab, readonly):
    open_page(browser, readonly.url)
    before = current_path_id(browser)
    data = trace(web_lab, "client", "web:80")
    path = drawn_path(browser, before, "Pod-to-Service")
    assert path["hops"] == len(data["hops"]) == path["rows"]
    assert any("DNAT" in text and "kube-proxy" in text for text in path["rewrites"]), path["rewrites"]
    newest = browser.find_element("css selector", "#activity li").text
    assert "trace client → web:80 · Pod-to-Service · reached" in newest and "cli" in newest
    table = browser.find_element("css selector", "#hops").text
    assert "by kube-proxy" in table and data["hops"][0]["src"] in table
    shot(browser, "browser-figure-trace.png")


def test_each_kind_of_traffic_is_drawn_in_its_own_colour(browser, web_lab, readonly):
    open_page(browser, readonly.url)
    colours = {}
    for source, destination, kind in FOUR_KINDS:
        before = current_path_id(browser)
        data = trace(web_lab, source, destination)
        assert data["kind"] == kind, data["summary"]
        path = drawn_path(browser, before, kind)
        assert path["hops"] == len(data["hops"])
        colours[kind] = path["stroke"]
        legend = browser.execute_script("return getComputedStyle(document.querySelector("
                                        "`.legend-item[data-kind='${arguments[0]}'] .swatch`)).backgroundColor", kind)
        assert legend == path["stroke"], (kind, legend, path["stroke"])
        if kind == "External-to-Service":
            assert any("SNAT" in t for t in path["rewrites"]) and any("DNAT" in t for t in path["rewrites"])
            shot(browser, "browser-figure-external.png")
    assert len(set(colours.values())) == 4, colours
    item = next(li for li in browser.find_elements("css selector", "#activity li") if "trace client → pod-3-2" in li.text)
    item.click()  # an older item, drawn again
    assert drawn_path(browser, None, "Pod-to-Pod")["stroke"] == colours["Pod-to-Pod"]


def test_probes_and_requests_are_drawn_too(browser, web_lab, readonly):
    open_page(browser, readonly.url)
    before = current_path_id(browser)
    data = probe_json(web_lab, "client", "pod-3-2")
    path = drawn_path(browser, before, "Pod-to-Pod")
    assert path["hops"] == len(data["path"]) and path["id"].endswith("-probe")
    connected = podnet("connect", "--name", web_lab.name, "client", "web:80", "-c", "2", "-o", "json")
    assert connected.returncode == 0, explain(connected)
    path = drawn_path(browser, path["id"], "Pod-to-Service")
    assert path["id"].endswith("-connect") and path["hops"] == 2 + 2  # client, the Service, two answers
    answered = {a["pod"] for a in json.loads(connected.stdout)["answers"]}
    assert all(name in browser.find_element("css selector", "#hops").text for name in answered)


def test_a_trace_started_from_the_page_is_drawn(browser, web_lab, acting):
    open_page(browser, acting.url)
    click(browser, '#tabs button[data-tab="actions"]')
    probe = browser.find_element("css selector", "form#probe-form")
    probe.find_element("css selector", "button[type=submit]").click()
    wait_js(browser, "return document.querySelector('#probe-form .form-status').dataset.state === 'error'",
            "the empty probe to be refused")
    assert "refused (400): invalid source" in probe.find_element("css selector", ".form-status").text
    form = browser.find_element("css selector", "form#trace-form")
    form.find_element("name", "source").send_keys("pod-1-1")
    form.find_element("name", "destination").send_keys("web:80")
    shot(browser, "browser-actions.png")
    before = current_path_id(browser)
    form.find_element("css selector", "button[type=submit]").click()
    path = drawn_path(browser, before, "Pod-to-Service")
    wait_js(browser, "return document.body.dataset.tab === 'figure'", "the page to show the figure once the trace is done")
    origin = browser.execute_script("return document.querySelector(`#activity li[data-id='${arguments[0]}']`)"
                                    "?.dataset.origin", path["id"])
    assert origin == "web"
    assert "trace pod-1-1 → web:80" in browser.find_element("css selector", "#activity li").text
    assert any("DNAT" in text for text in path["rewrites"])


def test_the_read_only_page_refuses_actions_and_says_so(browser, readonly):
    status, body = readonly.post("/api/actions/trace", {"source": "client", "destination": "web:80"})
    assert status == 403 and "--allow-actions" in body["error"]
    open_page(browser, readonly.url)
    fetched = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/actions/probe', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                     body: JSON.stringify({source: 'client', destination: 'pod-3-2'})})
          .then((r) => r.json().then((b) => done([r.status, b.error]))).catch((e) => done([0, String(e)]));""")
    assert fetched[0] == 403 and "read-only" in fetched[1]
    assert browser.find_element("css selector", "#mode").text == "read-only"
    click(browser, '#tabs button[data-tab="actions"]')
    note = browser.find_element("css selector", "#readonly").text
    assert "read-only: start podnet web with --allow-actions" in note
    assert not browser.find_elements("css selector", "form#trace-form")
    click(browser, '#tabs button[data-tab="matrix"]')
    assert not browser.find_elements("css selector", "#run-matrix")
    assert "--allow-actions" in browser.find_element("css selector", "#matrix").text


def test_projector_mode_toggles(browser, readonly):
    open_page(browser, readonly.url)
    looks = "return [getComputedStyle(document.body).fontSize, document.querySelector('.bar') && " \
            "getComputedStyle(document.querySelector('.bar')).strokeWidth]"
    normal = browser.execute_script(looks)
    click(browser, "#projector")
    assert browser.execute_script("return document.body.classList.contains('projector')")
    assert "projector=1" in browser.current_url
    wide = browser.execute_script(looks)
    assert float(wide[0][:-2]) > float(normal[0][:-2]) and float(wide[1][:-2]) > float(normal[1][:-2])
    shot(browser, "browser-projector.png")
    click(browser, "#projector")
    assert not browser.execute_script("return document.body.classList.contains('projector')")
    open_page(browser, readonly.url + "?projector=1")
    assert browser.execute_script("return document.body.classList.contains('projector')")
    assert browser.find_element("css selector", "#projector").get_attribute("aria-pressed") == "true"


def matrix_cells(driver) -> dict[tuple[str, str], str]:
    cells = driver.execute_script("return [...document.querySelectorAll('#matrix table td[data-source][data-target]')]"
                                  ".map((td) => [td.dataset.source, td.dataset.target, td.textContent])")
    return {(s, t): word for s, t, word in cells}


def test_the_matrix_tab_shows_the_grid_and_the_evidence_of_a_failure(browser, web_lab, readonly, acting):
    open_page(browser, readonly.url)
    click(browser, '#tabs button[data-tab="matrix"]')
    masquerade_in_node(web_lab, "node-1", web_lab.nodes()["node-1"]["spec"]["podCIDR"],
                       web_lab.nodes()["node-3"]["spec"]["podCIDR"])  # node-1's Pods reach node-3's SNATed: NAT
    data = probe_json(web_lab, "--all", expect=None, timeout=120)
    size = len(data["sources"]) * len(data["targets"])
    wait_js(browser, "return document.querySelectorAll('#matrix table td[data-source][data-target]').length === "
                     "arguments[0]", "the grid", 20, size)
    cells = matrix_cells(browser)
    assert cells[("pod-1-1", "pod-3-2")] == "NAT" and cells[("pod-2-1", "pod-3-2")] == "ok"
    assert cells[("pod-1-1", "pod-1-1")] == "."
    click(browser, '#matrix td[data-source="pod-1-1"][data-target="pod-3-2"]')
    evidence = browser.find_element("css selector", ".matrix-evidence").text
    why = [f["why"] for f in data["failures"] if (f["source"], f["target"]) == ("pod-1-1", "pod-3-2")]
    assert why and all(w in evidence for w in why), (why, evidence)
    shot(browser, "browser-matrix.png")
    open_page(browser, acting.url)
    click(browser, '#tabs button[data-tab="matrix"]')
    first = browser.execute_script("return document.querySelector('.matrix-summary').textContent")
    click(browser, "#run-matrix")
    assert "running" in browser.find_element("css selector", "#matrix-status").text
    wait_js(browser, "return !document.querySelector('#matrix').dataset.running && "
                     "document.querySelector('.matrix-summary').textContent !== arguments[0]",
            "the matrix run from the page to be shown", 120, first)
    assert "web" in browser.find_element("css selector", ".matrix-summary").text
