// A short renovation story through the TypeScript clients generated from the five services' OpenAPI documents
// (openapi-typescript types + openapi-fetch), compiled with `tsc --strict`. tests/clients/test_typescript_client.py
// generates ./generated/<service>.ts, compiles this file and runs it against the running services with
// STORY_CONFIG (JSON: base URLs, the development JWT secret, the district, a webhook receiver's URL). It prints one
// JSON line with the new subscription's secret (for the receiver), then one with what it saw; the Python test checks it (and what the receiver got).
import { createHmac, randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { paths as Survey } from "./generated/survey.js";
import type { paths as Projects } from "./generated/projects.js";
import type { paths as Finance } from "./generated/finance.js";
import type { paths as SmartCommunity } from "./generated/smart-community.js";
import type { paths as Webhooks } from "./generated/webhooks.js";

interface Config {
  urls: { survey: string; projects: string; finance: string; "smart-community": string; webhooks: string };
  jwt_secret: string;
  district_id: string;
  street_id: string;
  receiver_url: string;
  label: string;
}

const config = JSON.parse(process.env.STORY_CONFIG ?? "{}") as Config;

type Claims = Partial<Record<"district_id" | "street_id" | "community_id" | "household_id", string>>;

// A development token as `make token` signs it (HS256, the claims of docs/integration.md); production tokens come
// from the identity provider instead.
function token(role: string, sub: string, claims: Claims): { Authorization: string } {
  const b64 = (value: object | Buffer): string =>
    (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub, role, iss: "renovation-platform", aud: "renovation-api", iat: now, exp: now + 3600, ...claims };
  const unsigned = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(payload)}`;
  const signature = createHmac("sha256", config.jwt_secret).update(unsigned).digest();
  return { Authorization: `Bearer ${unsigned}.${b64(signature)}` };
}

function must<T>(what: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const waited: Record<string, number> = {}; // ms spent waiting for each effect of an event

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) {
      waited[what] = Date.now() - started;
      return value;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

const survey = createClient<Survey>({ baseUrl: config.urls.survey });
const projects = createClient<Projects>({ baseUrl: config.urls.projects });
const finance = createClient<Finance>({ baseUrl: config.urls.finance });
const smart = createClient<SmartCommunity>({ baseUrl: config.urls["smart-community"] });
const webhooks = createClient<Webhooks>({ baseUrl: config.urls.webhooks });

const district = config.district_id;
const street = config.street_id;
const admin = token("district_admin", `admin-${config.label}`, { district_id: district });
const gov = token("gov_system", `gov-${config.label}`, { district_id: district });

// 1. the district registers the community
const community = must(
  "registerCommunity",
  await survey.POST("/v1/communities", {
    headers: admin,
    body: {
      name: `${config.label}小区`,
      district_id: district,
      street_id: street,
      address: "劲松路2号",
      built_year: 1979,
      delivered_year: 1982,
      maintenance_fund_established: false,
    },
  }),
);

// 2. a government system subscribes and pings its endpoint
const subscription = must(
  "createSubscription",
  await webhooks.POST("/v1/subscriptions", {
    headers: { ...gov, "Idempotency-Key": `ts-story-${community.id}` },
    body: { url: config.receiver_url, event_types: ["finance.funding_plan.approved.v1"] },
  }),
);
// the endpoint learns its signing secret (shown only now) before the first delivery: STORY_CONFIG's runner reads it
console.log(JSON.stringify({ subscription_secret: subscription.secret }));
const ping = must(
  "sendTestPing",
  await webhooks.POST("/v1/subscriptions/{subscription_id}/test", {
    headers: gov,
    params: { path: { subscription_id: subscription.id } },
  }),
);
const pinged = await until("ping delivered", async () => {
  const d = must(
    "getDelivery",
    await webhooks.GET("/v1/deliveries/{delivery_id}", { headers: gov, params: { path: { delivery_id: ping.id } } }),
  );
  return d.status === "succeeded" ? d : undefined;
});

// 3. the grid worker registers three households, runs a menu round and closes it
const worker = token("community_worker", `worker-${config.label}`, {
  district_id: district,
  street_id: street,
  community_id: community.id,
});
const households = must(
  "addHouseholds",
  await survey.POST("/v1/communities/{community_id}/households", {
    headers: worker,
    params: { path: { community_id: community.id } },
    body: {
      households: [1, 2, 3].map((room) => ({
        building: "1",
        unit: "1",
        room: `10${room}`,
        floor_area_m2: "62.50",
        residents: [{ birth_year: 1940 + room, lives_alone: room === 1 }],
      })),
    },
  }),
).households;
const consultation = must(
  "createConsultation",
  await survey.POST("/v1/consultations", {
    headers: worker,
    body: {
      community_id: community.id,
      kind: "menu",
      title: "菜单式改造内容",
      questions: [
        {
          id: "menu",
          kind: "multiple_choice",
          text: "选择改造项目",
          options: ["rain_sewage_separation", "greening", "parking"],
          min_picks: 1,
        },
      ],
      menu_question_id: "menu",
      menu_threshold: "1/2",
    },
  }),
);
const path = { consultation_id: consultation.id };
must("openConsultation", await survey.POST("/v1/consultations/{consultation_id}/open", { headers: worker, params: { path } }));
const synced = must(
  "syncResponses",
  await survey.POST("/v1/consultations/{consultation_id}/responses/batch", {
    headers: worker,
    params: { path },
    body: {
      items: households.map((h, i) => ({
        submission_id: randomUUID(),
        household_id: h.id,
        answers: { menu: i < 2 ? ["rain_sewage_separation", "greening"] : ["greening"] },
        channel: "door_to_door" as const,
      })),
    },
  }),
);
const closed = must(
  "closeConsultation",
  await survey.POST("/v1/consultations/{consultation_id}/close", { headers: worker, params: { path } }),
);
const selected = (closed.menu ?? [])
  .filter((m) => m.selected)
  .map((m) => m.code)
  .sort();

// 4. projects made a project of the closed round (survey.consultation.closed.v1)
const project = await until("project from the menu round", async () => {
  const page = must(
    "listProjects",
    await projects.GET("/v1/projects", { headers: admin, params: { query: { community_id: community.id } } }),
  );
  return page.items[0];
});
const detail = must(
  "getProject",
  await projects.GET("/v1/projects/{project_id}", { headers: admin, params: { path: { project_id: project.id } } }),
);

// 5. finance learnt the project (projects.project.created.v1): a funding plan, approved by the district
const streetOfficer = token("street_officer", `street-${config.label}`, { district_id: district, street_id: street });
const plan = await until("funding plan accepted", async () => {
  const r = await finance.POST("/v1/funding-plans", {
    headers: streetOfficer,
    body: {
      project_id: project.id,
      sources: [
        { source: "government_subsidy", planned_fen: 1_000_000 },
        { source: "resident_contributions", planned_fen: 50_000 },
      ],
    },
  });
  return r.data;
});
const approved = must(
  "approveFundingPlan",
  await finance.POST("/v1/funding-plans/{plan_id}/approve", { headers: admin, params: { path: { plan_id: plan.id } } }),
);

// 6. smart community: a gas detector in the home of the resident living alone raises a critical alarm
const firstHousehold = households[0];
if (firstHousehold === undefined) throw new Error("no household registered");
const device = await until("device registered", async () => {
  const r = await smart.POST("/v1/devices", {
    headers: worker,
    body: { community_id: community.id, kind: "gas_detector", placement: "household", household_id: firstHousehold.id },
  });
  return r.data;
});
const gateway = token("device_gateway", `gateway-${config.label}`, { district_id: district, community_id: community.id });
const ingested = must(
  "ingestDeviceEventBatch",
  await smart.POST("/v1/device-events/batch", {
    headers: gateway,
    body: { events: [{ device_id: device.id, type: "alarm", time: new Date().toISOString(), readings: { lel: 30 } }] },
  }),
);
const alarms = must(
  "listAlarms",
  await smart.GET("/v1/alarms", { headers: worker, params: { query: { community_id: community.id } } }),
).items;

// 7. the approval reached the government endpoint
const approvalDelivery = await until("approval delivered", async () => {
  const page = must(
    "listDeliveries",
    await webhooks.GET("/v1/deliveries", {
      headers: gov,
      params: { query: { subscription_id: subscription.id, status: "succeeded" } },
    }),
  );
  return page.items.find((d) => d.event_type === "finance.funding_plan.approved.v1");
});

console.log(
  JSON.stringify({
    community_id: community.id,
    subscription_id: subscription.id,
    ping_delivery: { id: pinged.id, status: pinged.status, event_id: pinged.event_id },
    households: households.length,
    synced: { accepted: synced.accepted, rejected: synced.rejected },
    selected,
    project: { id: detail.id, community_id: detail.community_id, packages: (detail.packages ?? []).length },
    funding_plan: { id: approved.id, status: approved.status, total_planned_fen: approved.total_planned_fen },
    alarms_raised: ingested.alarms_raised,
    alarms: alarms.map((a) => ({ severity: a.severity, alarm_type: a.alarm_type, household_id: a.household_id })),
    approval_delivery: { event_id: approvalDelivery.event_id, status: approvalDelivery.status },
    waited_ms: waited,
  }),
);
