// The KPI report page: its one button prints (no inline script under the page's CSP).
document.getElementById("print")?.addEventListener("click", () => window.print());
