// A consortium member as the ledger knows it: role, province, status and signing keys (public).
import { api, facts, h, onLanguageChange, pathId, roleName, showFailure, startPage, t } from "./app.js";

const content = document.getElementById("content");
const organizationId = pathId(/^\/organizations\/([1-9][0-9]{0,9})$/);
let shown;

startPage("title.organization");
onLanguageChange(draw);
void load();

async function load() {
  if (!organizationId) shown = { kind: "bad-address" };
  else {
    try {
      shown = { kind: "organization", organization: await api(`/v1/organizations/${organizationId}`) };
    } catch (error) {
      shown = { kind: "failure", error };
    }
  }
  draw();
}

function draw() {
  if (!shown) return;
  if (shown.kind === "bad-address") return content.replaceChildren(h("div", { class: "alert", role: "alert" }, h("p", { class: "alert__title" }, t("error.badAddress", { path: location.pathname }))));
  if (shown.kind === "failure") return showFailure(content, shown.error);
  const { organization } = shown;
  content.replaceChildren(
    h("h2", { id: "organization-name" }, organization.name),
    facts([
      ["field.role", roleName(organization.role)],
      ["field.region", String(organization.region)],
      ["field.status", t(`organizationStatus.${organization.status}`)],
    ]),
    h("h3", {}, t("org.keys")),
    h("ul", {}, organization.keys.map((key) => h("li", {}, h("code", {}, key.address), " ", key.revoked ? t("field.revoked") : t("field.active")))),
  );
}
