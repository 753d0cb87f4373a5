// Progressive enhancement of the Dépannage table: the pages work without this file.
// 1. "Réinitialiser le mot de passe" opens the DSFR confirmation modal instead of the
//    confirmation page. 2. The header checkbox selects every row of the page.
const modal = document.getElementById("reset-modal");
const form = document.getElementById("reset-modal-form");
const pupil = document.getElementById("reset-modal-pupil");
const details = document.getElementById("reset-modal-details");

document.querySelectorAll("a.ec-reset").forEach((link) => {
  link.addEventListener("click", (event) => {
    if (!modal || !window.dsfr) return; // fall back to the confirmation page
    event.preventDefault();
    form.action = link.dataset.resetUrl;
    pupil.textContent = link.dataset.pupil;
    if (details) details.textContent = link.dataset.details || "";
    window.dsfr(modal).modal.disclose();
  });
});

const all = document.getElementById("select-page");
const rows = Array.from(document.querySelectorAll("input.ec-row-select"));
if (all) {
  all.addEventListener("change", () => rows.forEach((box) => { box.checked = all.checked; }));
  rows.forEach((box) => box.addEventListener("change", () => {
    all.checked = rows.every((b) => b.checked);
  }));
}
