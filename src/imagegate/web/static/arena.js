// The vote page: vote with buttons or keys 1-4 without leaving the page, see the names, then N for the next
// battle. Without JavaScript the form posts and the server answers with the revealed battle.
(() => {
  const section = document.getElementById("battle");
  const form = document.getElementById("vote-form");
  if (!section) return;
  const keys = { "1": "a", "2": "b", "3": "tie", "4": "both_bad" };
  let busy = false;

  async function vote(winner) {
    if (busy || section.dataset.voted === "true") return;
    busy = true;
    const body = new URLSearchParams({ battle_id: section.dataset.battleId, task: section.dataset.task, winner });
    try {
      const res = await fetch("/arena/vote", {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      const data = await res.json();
      if (!res.ok) throw new Error(data.error ? data.error.message : res.statusText);
      section.dataset.voted = "true";
      for (const side of ["a", "b"]) {
        document.getElementById("name-" + side).textContent = data[side].name + " (" + data[side].model + ")";
        document.getElementById("side-" + side).classList.toggle("winner", data.winner === side);
      }
      if (form) form.hidden = true;
      const result = document.getElementById("result");
      const label = { a: "A", b: "B", tie: "tie", both_bad: "both bad" }[data.winner];
      result.firstChild.textContent = "You voted " + label + (data.counted ? ". " : " (not counted). ");
      result.hidden = false;
      document.getElementById("next").focus();
    } catch (err) {
      const result = document.getElementById("result");
      result.hidden = false;
      result.firstChild.textContent = "Vote failed: " + err.message + " ";
    } finally {
      busy = false;
    }
  }

  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const winner = event.submitter ? event.submitter.value : null;
      if (winner) vote(winner);
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, select, textarea")) return;
    if (keys[event.key]) { event.preventDefault(); vote(keys[event.key]); }
    if ((event.key === "n" || event.key === "N") && section.dataset.voted === "true") {
      window.location.href = document.getElementById("next").href;
    }
  });
})();
