// @ts-check
// Sign-in with an organization's key: the page decrypts the keystore (or takes a demo key), signs the API's
// challenge itself and keeps only the token, so the key never leaves the browser.
import { Wallet } from "/vendor/ethers.js";
import { api, ApiFailure, byId, failureBox, h, messageBox, onLanguageChange, roleName, saveSession, startPage, t } from "./app.js";
import { returnPath } from "./return-path.js";

const progress = byId("progress", HTMLElement);
const outcome = byId("outcome", HTMLElement);
/** @type {Array<{ organizationId: number, name: string, role: string, privateKey: string }>} */
let demoOrganizations = [];

startPage("title.signIn");
onLanguageChange(drawDemo);
void loadDemo();

byId("keystore-form", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  void signInWithKeystore();
});

async function loadDemo() {
  try {
    demoOrganizations = await api("/v1/demo/organizations");
  } catch (error) {
    // Not in demo mode is the normal case for a real deployment: only the keystore form is offered.
    if (error instanceof ApiFailure && error.code === "NOT_DEMO_MODE") return;
    outcome.replaceChildren(failureBox(error));
    return;
  }
  drawDemo();
}

function drawDemo() {
  byId("demo", HTMLElement).hidden = demoOrganizations.length === 0;
  byId("demo-list", HTMLUListElement).replaceChildren(
    ...demoOrganizations.map((organization) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            "data-organization": organization.organizationId,
            onclick: () => void signIn(new Wallet(organization.privateKey), { kind: "demo", privateKey: organization.privateKey }),
          },
          t("signIn.demoAs", { name: organization.name, role: roleName(organization.role) }),
        ),
      ),
    ),
  );
}

async function signInWithKeystore() {
  const file = byId("keystore", HTMLInputElement).files?.[0];
  if (!file) return say("signIn.noFile");
  progress.textContent = t("signIn.decrypting");
  const json = await file.text();
  let wallet;
  try {
    wallet = await Wallet.fromEncryptedJson(json, byId("password", HTMLInputElement).value);
  } catch {
    progress.textContent = "";
    return say("signIn.badKeystore");
  }
  await signIn(wallet, { kind: "keystore", json });
}

/**
 * The API's challenge, signed by the key (EIP-191), exchanged for a token kept for this tab, with what signs
 * attestations later: the demo key, or the keystore still encrypted (never the password or the decrypted key).
 * @param {{ address: string, signMessage(text: string): Promise<string> }} wallet
 * @param {import("./app.js").SignerSource} signer
 */
async function signIn(wallet, signer) {
  progress.textContent = t("signIn.signing");
  outcome.replaceChildren();
  try {
    const { challenge, text } = await api("/v1/auth/challenge", { method: "POST", body: { key: wallet.address } });
    const signature = await wallet.signMessage(text);
    const token = await api("/v1/auth/token", { method: "POST", body: { key: wallet.address, challenge, signature } });
    const organization = await api(`/v1/organizations/${token.organizationId}`);
    saveSession({
      token: token.token,
      expiresAt: token.expiresAt,
      organizationId: token.organizationId,
      role: token.role,
      name: organization.name,
      key: wallet.address,
      signer,
    });
  } catch (error) {
    progress.textContent = "";
    outcome.replaceChildren(failureBox(error));
    return;
  }
  // Back to the page that asked, never to another site.
  location.assign(returnPath(new URLSearchParams(location.search).get("next"), location.origin));
}

/** @param {string} key */
function say(key) {
  outcome.replaceChildren(messageBox(key));
}
