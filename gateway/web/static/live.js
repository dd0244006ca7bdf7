// Live updates, as an enhancement: a region marked data-live="<events URL>" is refreshed from
// the server's own rendering of the page whenever that URL says something changed. Without
// JavaScript the page is complete as it is; a reload shows the same.
for (const region of document.querySelectorAll("[data-live]")) {
  const events = new EventSource(region.dataset.live)
  events.addEventListener("changed", async () => {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } })
    if (!response.ok) return
    const fresh = new DOMParser()
      .parseFromString(await response.text(), "text/html")
      .getElementById(region.id)
    if (fresh) region.innerHTML = fresh.innerHTML
  })
}
