// GOV.UK Frontend's behaviour for the components that have some (conditional questions,
// the error summary's focus, the menu on a phone, "hide this page", no double submits).
// Everything works without it; this only makes it smoother.
import { initAll } from "./build/govuk-frontend.min.js";

document.body.classList.add("govuk-frontend-supported");
initAll();

// A question that applies only after some answers to another (data-reveal-name and
// data-reveal-values on its wrapper) is hidden until one of those answers is chosen.
for (const block of document.querySelectorAll("[data-reveal-name]")) {
  const form = block.closest("form");
  const answers = block.dataset.revealValues.split(" ");
  const update = () => {
    const chosen = [...form.querySelectorAll(`[name="${block.dataset.revealName}"]`)]
      .filter((input) => input.checked || input.tagName === "SELECT")
      .map((input) => input.value);
    block.hidden = !chosen.some((value) => answers.includes(value));
  };
  form.addEventListener("change", update);
  update();
}
