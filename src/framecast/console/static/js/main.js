// Sign in, then the create form and the task list. The key is checked with GET /v1/models, which the form
// needs anyway, and kept in this tab's session storage (gone when the tab closes).

import { call, forgetKey, savedKey, saveKey } from "./api.js";
import { CreateForm } from "./create.js";
import { rememberRequest, TaskList } from "./tasks.js";

const signin = document.getElementById("signin");
const signinForm = document.getElementById("signin-form");
const keyInput = document.getElementById("api-key");
const keyError = document.getElementById("api-key-error");
const workspace = document.getElementById("workspace");
const signOut = document.getElementById("sign-out");

function wrongKey(err) {
  return err.status === 401
    ? `This API key was not accepted (${err.message}). Check it and try again, or ask the operator for one.`
    : `Signing in failed: ${err.message}`;
}

const hooks = {
  onUnauthorized(err) {
    leave();
    keyError.textContent = wrongKey(err);
  },
  onCreated(taskId, request) {
    rememberRequest(taskId, request);
    tasks.show(0);
  },
};
const form = new CreateForm(hooks);
const tasks = new TaskList(hooks);

async function enter(key) {
  keyError.textContent = "";
  const models = await call("/v1/models", { key });
  saveKey(key);
  form.setModels(models.data || []);
  signin.hidden = true;
  workspace.hidden = false;
  signOut.hidden = false;
  keyInput.removeAttribute("aria-invalid");
  tasks.start();
  document.getElementById("first-frame").focus();
}

function leave() {
  forgetKey();
  tasks.stop();
  workspace.hidden = true;
  signOut.hidden = true;
  signin.hidden = false;
  keyInput.value = "";
  keyInput.focus();
}

signinForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (!key) {
    keyError.textContent = "Enter an API key.";
    keyInput.focus();
    return;
  }
  try {
    await enter(key);
  } catch (err) {
    keyError.textContent = wrongKey(err);
    keyInput.setAttribute("aria-invalid", "true");
    keyInput.focus();
  }
});

signOut.addEventListener("click", leave);

if (savedKey()) {
  enter(savedKey()).catch((err) => {
    leave();
    keyError.textContent = wrongKey(err);
  });
} else {
  keyInput.focus();
}
