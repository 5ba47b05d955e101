// @ts-check
// A consortium member as the ledger knows it: role, province, status and signing keys (public).
import { api, facts, h, pathId, roleName, startPage, t } from "./app.js";
import { showAnswer } from "./view.js";

const organizationId = pathId(/^\/organizations\/([1-9][0-9]{0,9})$/);

startPage("title.organization");
showAnswer({
  badAddress: !organizationId,
  needsSignIn: false,
  load: () => api(`/v1/organizations/${organizationId}`),
  render: (organization) => [
    h("h2", { id: "organization-name" }, organization.name),
    facts([
      ["field.role", roleName(organization.role)],
      ["field.region", String(organization.region)],
      ["field.status", t(`organizationStatus.${organization.status}`)],
    ]),
    h("h3", {}, t("org.keys")),
    h(
      "ul",
      {},
      organization.keys.map((/** @type {{ address: string, revoked: boolean }} */ key) =>
        h("li", {}, h("code", {}, key.address), " ", key.revoked ? t("field.revoked") : t("field.active")),
      ),
    ),
  ],
});
