// The bulletin form downloads a draft with GET, so it carries no CSRF token (a token in a URL leaks into logs,
// history and Referer headers). Publishing posts the same fields: the token is added only then.
"use strict";
document.getElementById("bulletin-form")?.addEventListener("submit", (event) => {
  const form = event.currentTarget;
  const submitter = event.submitter;
  form.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach((input) => input.remove());
  if (submitter && submitter.dataset.csrf && submitter.formMethod === "post") {
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = submitter.dataset.csrf;
    form.append(token);
  }
});
