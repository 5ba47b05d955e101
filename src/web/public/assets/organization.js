// @ts-check
// A consortium member as the ledger knows it: role, province, status and signing keys (public). A regulator
// signed in may suspend an active organization or reinstate a suspended one, with its reason.
import { api, byId, facts, h, onLanguageChange, pathId, roleName, session, showFailure, startPage, t } from "./app.js";
import { afterSigning, field, keepingDrafts, signer, signingForm } from "./actions.js";
import { documentHash } from "./signing.js";

const organizationId = pathId(/^\/organizations\/([1-9][0-9]{0,9})$/);
const content = byId("content", HTMLElement);
const signing = signer(byId("outcome", HTMLElement));
/** @type {any} */
let organization;

startPage("title.organization");
onLanguageChange(() => {
  signing.draw();
  keepingDrafts(content, draw);
});
void load();

async function load() {
  if (!organizationId) return showFailure(content, new Error(t("error.badAddress", { path: location.pathname })));
  try {
    organization = await api(`/v1/organizations/${organizationId}`);
  } catch (error) {
    return showFailure(content, error);
  }
  draw();
}

function draw() {
  if (!organization) return;
  content.replaceChildren(
    h("h2", { id: "organization-name" }, organization.name),
    facts([
      ["field.role", roleName(organization.role)],
      ["field.region", String(organization.region)],
      ["field.status", h("span", { id: "organization-status" }, t(`organizationStatus.${organization.status}`))],
    ]),
    regulatorOrSelf()
      ? h(
          "p",
          {},
          h("a", { id: "enterprise-file", href: `/organizations/${organization.id}/file` }, t("title.enterprise")),
          " · ",
          h("a", { id: "organization-quality", href: `/organizations/${organization.id}/quality` }, t("title.organizationQuality")),
        )
      : "",
    h("h3", {}, t("org.keys")),
    h(
      "ul",
      {},
      organization.keys.map((/** @type {{ address: string, revoked: boolean }} */ key) =>
        h("li", {}, h("code", {}, key.address), " ", key.revoked ? t("field.revoked") : t("field.active")),
      ),
    ),
    ...(session()?.role === "REGULATOR" && session()?.organizationId !== organization.id ? [statusForm()] : []),
  );
}

/** Regulators and the organization itself read its enterprise file. */
function regulatorOrSelf() {
  const me = session();
  return me !== undefined && (me.role === "REGULATOR" || me.organizationId === organization.id);
}

/** Suspension of an active organization, or reinstatement of a suspended one: a regulator's signed decision. */
function statusForm() {
  const suspending = organization.status !== "SUSPENDED";
  return signingForm({
    id: "status-change",
    title: t(suspending ? "org.suspend" : "org.reinstate"),
    intro: t(suspending ? "org.suspendIntro" : "org.reinstateIntro"),
    fields: [field({ id: "status-reason", label: t("org.reason"), hint: t("document.hint") })],
    action: t(suspending ? "org.suspendSubmit" : "org.reinstateSubmit"),
    submit: async (values) =>
      afterSigning(
        await signing.sign(
          suspending ? "Suspension" : "Reinstatement",
          { organizationId: organization.id, reasonHash: documentHash(values["status-reason"] ?? "") },
          suspending ? "org.suspended" : "org.reinstated",
        ),
        load,
      ),
  });
}
