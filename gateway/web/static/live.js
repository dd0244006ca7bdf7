// Live updates, as an enhancement: a region marked data-live="<events URL>" is refreshed from
// the server's own rendering of the page whenever that URL says something changed. Without
// JavaScript the page is complete as it is; a reload shows the same.

// What the reader has chosen or typed in the region survives a refresh: a box is known by its
// name and value (its place in a list may change), anything else by its id.
function keyOf(input) {
  return input.type === "checkbox" || input.type === "radio"
    ? `${input.name}=${input.value}`
    : input.id
}

function readState(region) {
  const state = new Map()
  for (const input of region.querySelectorAll("input, textarea, select")) {
    const key = keyOf(input)
    if (key) state.set(key, input.type === "checkbox" || input.type === "radio" ? input.checked : input.value)
  }
  const focused = region.contains(document.activeElement) ? keyOf(document.activeElement) : null
  return { state, focused }
}

function restoreState(region, { state, focused }) {
  for (const input of region.querySelectorAll("input, textarea, select")) {
    const key = keyOf(input)
    if (!state.has(key)) continue
    const value = state.get(key)
    if (typeof value === "boolean") input.checked = value
    else input.value = value
    if (key === focused) input.focus()
  }
}

for (const region of document.querySelectorAll("[data-live]")) {
  const events = new EventSource(region.dataset.live)
  events.addEventListener("changed", async () => {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } })
    if (!response.ok) return
    const fresh = new DOMParser()
      .parseFromString(await response.text(), "text/html")
      .getElementById(region.id)
    if (!fresh) return
    const kept = readState(region)
    region.innerHTML = fresh.innerHTML
    restoreState(region, kept)
  })
}
