"""Run axe-core (node_modules/axe-core, pinned in package.json) in a Playwright page and report what it finds."""

from tests.a11y_pages import AXE_JS, missing_tool

# WCAG 2.0/2.1 A and AA, plus axe's best practices.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}


def require_axe():
    if not AXE_JS.exists():
        missing_tool(f"{AXE_JS} not found: run `npm ci` in the project folder")


def run_axe(page):
    """The axe violations on the page as it is now (axe is injected from the local file, never a CDN)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    return page.evaluate("options => axe.run(document, options).then(results => results.violations)", AXE_OPTIONS)


def describe(violations):
    """One block per violation: id, impact, help (and its URL), then each failing node's selector and why."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} [{violation['impact']}] {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:10]:
            target = " >> ".join(" ".join(part) if isinstance(part, list) else part for part in node["target"])
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {target}: {summary}")
        if len(violation["nodes"]) > 10:
            lines.append(f"    … and {len(violation['nodes']) - 10} more")
    return "\n".join(lines)


def assert_no_violations(page, label, widths):
    """No violations at any of `widths` (the page is resized in place: one load, one set of content)."""
    reports = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})
        violations = run_axe(page)
        if violations:
            reports.append(f"axe found {len(violations)} violation(s) on {label} at {width}px:\n{describe(violations)}")
    assert reports == [], "\n".join(reports)
