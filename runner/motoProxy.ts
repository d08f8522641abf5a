// A loopback HTTP proxy in front of moto, for the demo, the benchmark and the tests (never the product):
// 1. it mends where moto 5.1/5.2 answers differently from AWS, each mend citing the AWS behaviour it restores;
// 2. it can inject faults per action (500, 503, throttling, connection resets, stalls, and lost responses: the
//    call is carried out and its answer dropped), drawn from a seeded generator so a run can be replayed.
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultKind = "500" | "503" | "throttle" | "reset" | "stall" | "lost" | "denied";

/** What the proxy saw of a call: the service (from the signature's credential scope), the region and the action. */
export interface Call {
    service: string;
    region: string;
    action: string;
}

export interface ProxyOptions {
    /** Decides a fault for each call, or none. */
    fault?: (call: Call) => FaultKind | undefined;
    /** How long a stalled call is held before it goes through. Defaults to 5 s. */
    stallMs?: number;
}

export interface ProxyStats {
    calls: Record<string, number>;
    faults: Record<string, number>;
}

export interface MotoProxy {
    endpoint: string;
    stats: ProxyStats;
    /** Replaces the fault plan (undefined: none), and the stall time, for the calls from now on. */
    setFaults(fault: ProxyOptions["fault"], stallMs?: number): void;
    stop(): Promise<void>;
}

interface Exchange {
    call: Call;
    form: URLSearchParams | undefined;
    json: Record<string, unknown> | undefined;
}

/** A mend: may rewrite the request, and may rewrite (or replace) moto's answer. */
interface Mend {
    applies(e: Exchange): boolean;
    request?(e: Exchange): void;
    response?(e: Exchange, res: Answer, ask: Ask): Promise<Answer> | Answer;
}

interface Answer {
    status: number;
    headers: IncomingHttpHeaders;
    body: string;
}

/** Sends a request of the proxy's own to moto (unsigned: moto does not check signatures). */
type Ask = (service: string, form: Record<string, string>) => Promise<string>;

const ec2Error = (code: string, message: string, status = 400): Answer => ({
    status,
    headers: { "content-type": "text/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>proxy</RequestID></Response>`,
});

const formValues = (form: URLSearchParams, prefix: RegExp) =>
    [...form.entries()].filter(([k]) => prefix.test(k)).map(([, v]) => v);

/**
 * moto 5.1.1's Auto Scaling XML: times without a zone (the API returns ISO 8601 UTC), a stray `}` after a
 * group's LaunchTemplateId, and mixed-instances overrides printed without their LaunchTemplateSpecification
 * (DescribeAutoScalingGroups returns every override as it was created). The overrides are remembered from the
 * group's creation and put back.
 */
function autoScalingMends(): Mend {
    const overrides = new Map<string, { instanceType: string; spec: string }[]>();
    return {
        applies: (e) => e.call.service === "autoscaling",
        response: (e, res) => {
            const form = e.form;
            if (form && /^(Create|Update)AutoScalingGroup$/.test(e.call.action)) {
                const name = form.get("AutoScalingGroupName") ?? "";
                const base = "MixedInstancesPolicy.LaunchTemplate.Overrides.member.";
                const list: { instanceType: string; spec: string }[] = [];
                for (
                    let n = 1;
                    form.has(`${base}${n}.InstanceType`) ||
                    form.has(`${base}${n}.LaunchTemplateSpecification.LaunchTemplateId`);
                    n++
                ) {
                    const at = (k: string) => form.get(`${base}${n}.LaunchTemplateSpecification.${k}`);
                    const parts = ["LaunchTemplateId", "LaunchTemplateName", "Version"]
                        .filter((k) => at(k))
                        .map((k) => `<${k}>${at(k)}</${k}>`);
                    list.push({
                        instanceType: form.get(`${base}${n}.InstanceType`) ?? "",
                        spec: parts.length
                            ? `<LaunchTemplateSpecification>${parts.join("")}</LaunchTemplateSpecification>`
                            : "",
                    });
                }
                if (list.length) overrides.set(name, list);
            }
            let body = res.body
                .replace(/>(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)</g, ">$1Z<")
                .replace(/<\/LaunchTemplateId>\}/g, "</LaunchTemplateId>");
            if (e.call.action === "DescribeAutoScalingGroups") {
                for (const [name, list] of overrides) {
                    const at = body.indexOf(`<AutoScalingGroupName>${name}</AutoScalingGroupName>`);
                    if (at < 0) continue;
                    const start = body.indexOf("<Overrides>", at);
                    const next = body.indexOf("<AutoScalingGroupName>", at + 1);
                    if (start < 0 || (next >= 0 && start > next)) continue;
                    const end = body.indexOf("</Overrides>", start);
                    let n = 0;
                    const fixed = body
                        .slice(start, end)
                        .replace(/<member>([\s\S]*?)<\/member>/g, (m, inner: string) => {
                            const want = list[n++];
                            return want && !inner.includes("<LaunchTemplateSpecification>")
                                ? `<member>${inner}${want.spec}</member>`
                                : m;
                        });
                    body = body.slice(0, start) + fixed + body.slice(end);
                }
            }
            return { ...res, body };
        },
    };
}

/**
 * EC2 DescribeImages with ImageIds fails the whole call with InvalidAMIID.NotFound, naming the ids, when one of
 * them does not exist (as AWS answers it; moto leaves the id out instead).
 */
const missingImageIds: Mend = {
    applies: (e) => e.call.service === "ec2" && e.call.action === "DescribeImages" && !!e.form,
    response: (e, res) => {
        if (res.status !== 200 || !e.form) return res;
        const asked = formValues(e.form, /^ImageId\.\d+$/);
        if (asked.length === 0) return res;
        const found = new Set([...res.body.matchAll(/<imageId>(ami-[^<]+)<\/imageId>/g)].map((m) => m[1]));
        const missing = asked.filter((id) => !found.has(id));
        return missing.length
            ? ec2Error("InvalidAMIID.NotFound", `The image id '[${missing.join(", ")}]' does not exist`)
            : res;
    },
};

/**
 * EC2 launch templates: moto cuts DescribeLaunchTemplates/Versions at MaxResults (15 unless given) and never
 * returns a NextToken, and moto 5.1.1 answers the account-wide `$Default`/`$Latest` query (documented in the
 * DescribeLaunchTemplateVersions reference) with nothing. The proxy asks for everything, and answers the
 * account-wide query template by template.
 */
const launchTemplates: Mend = {
    applies: (e) =>
        e.call.service === "ec2" && /^DescribeLaunchTemplate(s|Versions)$/.test(e.call.action) && !!e.form,
    request: (e) => e.form?.set("MaxResults", "1000000"),
    response: async (e, res, ask) => {
        const form = e.form;
        if (!form || e.call.action !== "DescribeLaunchTemplateVersions" || res.status !== 200) return res;
        if (form.get("LaunchTemplateId") || form.get("LaunchTemplateName")) return res;
        if (/<item>/.test(res.body)) return res;
        const templates = await ask("ec2", {
            Action: "DescribeLaunchTemplates",
            Version: "2016-11-15",
            MaxResults: "1000000",
        });
        const ids = [...templates.matchAll(/<launchTemplateId>(lt-[^<]+)<\/launchTemplateId>/g)].map(
            (m) => m[1],
        );
        const versions = formValues(form, /^LaunchTemplateVersion\.\d+$/);
        const items: string[] = [];
        for (const id of [...new Set(ids)]) {
            const one: Record<string, string> = {
                Action: "DescribeLaunchTemplateVersions",
                Version: "2016-11-15",
                LaunchTemplateId: id,
            };
            versions.forEach((v, i) => {
                one[`LaunchTemplateVersion.${i + 1}`] = v;
            });
            const body = await ask("ec2", one);
            const set = /<launchTemplateVersionSet>([\s\S]*)<\/launchTemplateVersionSet>/.exec(body);
            if (set) items.push(set[1]);
        }
        const body = res.body.replace(
            /<launchTemplateVersionSet\s*\/>|<launchTemplateVersionSet>\s*<\/launchTemplateVersionSet>/,
            `<launchTemplateVersionSet>${items.join("")}</launchTemplateVersionSet>`,
        );
        return { ...res, body };
    },
};

/**
 * SSM DescribeParameters takes the filter key `DataType` (its ParameterStringFilter documents it); moto refuses
 * it. The proxy leaves it out of the request and applies it to the answer.
 */
const ssmDataTypeFilter: Mend = {
    applies: (e) => e.call.service === "ssm" && e.call.action === "DescribeParameters" && !!e.json,
    request: (e) => {
        const filters = (e.json?.ParameterFilters ?? []) as { Key?: string; Values?: string[] }[];
        const dataType = filters.filter((f) => f.Key === "DataType");
        if (!e.json || dataType.length === 0) return;
        const rest = filters.filter((f) => f.Key !== "DataType");
        e.json.ParameterFilters = rest.length ? rest : undefined;
        (e as Exchange & { dataTypes?: string[] }).dataTypes = dataType.flatMap((f) => f.Values ?? []);
    },
    response: (e, res) => {
        const wanted = (e as Exchange & { dataTypes?: string[] }).dataTypes;
        if (!wanted || res.status !== 200) return res;
        const doc = JSON.parse(res.body) as { Parameters?: { DataType?: string }[] };
        doc.Parameters = (doc.Parameters ?? []).filter((p) => wanted.includes(p.DataType ?? "text"));
        return { ...res, body: JSON.stringify(doc) };
    },
};

/** Each service's throttling error, as the service sends it. */
function throttled(service: string): Answer {
    if (service === "ec2") return ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503);
    if (service === "autoscaling")
        return {
            status: 400,
            headers: { "content-type": "text/xml" },
            body: "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>proxy</RequestId></ErrorResponse>",
        };
    return {
        status: 400,
        headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "ThrottlingException" },
        body: JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" }),
    };
}

/** A permanent refusal, as each service sends its access-denied error. */
function denied(service: string): Answer {
    const message = "User: arn:aws:iam::123456789012:user/test is not authorized to perform this action";
    if (service === "ec2") return ec2Error("UnauthorizedOperation", message, 403);
    if (service === "autoscaling")
        return {
            status: 403,
            headers: { "content-type": "text/xml" },
            body: `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>`,
        };
    return {
        status: 400,
        headers: {
            "content-type": "application/x-amz-json-1.1",
            "x-amzn-errortype": "AccessDeniedException",
        },
        body: JSON.stringify({ __type: "AccessDeniedException", message }),
    };
}

function serverError(service: string, status: 500 | 503): Answer {
    const code = status === 500 ? "InternalError" : "ServiceUnavailable";
    if (service === "ec2") return ec2Error(code, "An internal error has occurred.", status);
    if (service === "autoscaling")
        return {
            status,
            headers: { "content-type": "text/xml" },
            body: `<ErrorResponse><Error><Type>Receiver</Type><Code>${code}</Code><Message>An internal error has occurred.</Message></Error><RequestId>proxy</RequestId></ErrorResponse>`,
        };
    return {
        status,
        headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": code },
        body: JSON.stringify({ __type: code, message: "An internal error has occurred." }),
    };
}

function callOf(headers: IncomingHttpHeaders, form: URLSearchParams | undefined): Call {
    const scope = /Credential=[^/]+\/\d+\/([^/]+)\/([^/]+)\//.exec(String(headers.authorization ?? ""));
    const target = String(headers["x-amz-target"] ?? "");
    return {
        region: scope?.[1] ?? "us-east-1",
        service: scope?.[2] ?? "unknown",
        action: form?.get("Action") ?? (target.split(".").pop() || "Unknown"),
    };
}

const readAll = (stream: NodeJS.ReadableStream) =>
    new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => resolve(Buffer.concat(chunks)));
        stream.on("error", reject);
    });

/** Starts the proxy in front of `target` (moto's endpoint). */
export async function startMotoProxy(target: string, opts: ProxyOptions = {}): Promise<MotoProxy> {
    const upstream = new URL(target);
    const mends: Mend[] = [autoScalingMends(), missingImageIds, launchTemplates, ssmDataTypeFilter];
    const stats: ProxyStats = { calls: {}, faults: {} };
    let fault = opts.fault;
    let stallMs = opts.stallMs ?? 5000;
    const sockets = new Set<Socket>();

    const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer) =>
        new Promise<Answer>((resolve, reject) => {
            const req = request(
                {
                    host: upstream.hostname,
                    port: upstream.port,
                    method,
                    path,
                    headers: { ...headers, host: upstream.host, "content-length": String(body.length) },
                },
                async (res) => {
                    try {
                        resolve({
                            status: res.statusCode ?? 500,
                            headers: res.headers,
                            body: (await readAll(res)).toString("utf8"),
                        });
                    } catch (err) {
                        reject(err);
                    }
                },
            );
            req.on("error", reject);
            req.end(body);
        });

    const ask: Ask = async (service, form) => {
        const body = Buffer.from(new URLSearchParams(form).toString());
        const auth = `AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;
        return (
            await forward(
                "POST",
                "/",
                { "content-type": "application/x-www-form-urlencoded", authorization: auth },
                body,
            )
        ).body;
    };

    const server: Server = createServer(async (req, res) => {
        try {
            const raw = await readAll(req);
            const text = raw.toString("utf8");
            const isForm = String(req.headers["content-type"] ?? "").includes("x-www-form-urlencoded");
            const form = isForm ? new URLSearchParams(text) : undefined;
            const json =
                !isForm && text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : undefined;
            const call = callOf(req.headers, form);
            const key = `${call.service}:${call.action}`;
            stats.calls[key] = (stats.calls[key] ?? 0) + 1;
            const e: Exchange = { call, form, json };
            const active = mends.filter((m) => m.applies(e));
            for (const m of active) m.request?.(e);
            const kind = fault?.(call);
            if (kind) stats.faults[`${key}:${kind}`] = (stats.faults[`${key}:${kind}`] ?? 0) + 1;
            if (kind === "reset") {
                req.socket.destroy();
                return;
            }
            if (kind === "throttle" || kind === "500" || kind === "503" || kind === "denied") {
                const a =
                    kind === "throttle"
                        ? throttled(call.service)
                        : kind === "denied"
                          ? denied(call.service)
                          : serverError(call.service, kind === "500" ? 500 : 503);
                res.writeHead(a.status, { ...a.headers, "content-length": Buffer.byteLength(a.body) });
                res.end(a.body);
                return;
            }
            if (kind === "stall") await new Promise((r) => setTimeout(r, stallMs));
            const body = form ? Buffer.from(form.toString()) : json ? Buffer.from(JSON.stringify(json)) : raw;
            let answer = await forward(req.method ?? "POST", req.url ?? "/", req.headers, body);
            for (const m of active) if (m.response) answer = await m.response(e, answer, ask);
            if (kind === "lost") {
                // Carried out by moto; the answer never reaches the caller.
                req.socket.destroy();
                return;
            }
            const { "content-length": _len, "transfer-encoding": _te, ...headers } = answer.headers;
            res.writeHead(answer.status, { ...headers, "content-length": Buffer.byteLength(answer.body) });
            res.end(answer.body);
        } catch (err) {
            if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
            res.end(`moto proxy: ${(err as Error).message}`);
        }
    });
    server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    return {
        endpoint: `http://127.0.0.1:${port}`,
        stats,
        setFaults: (f, stall) => {
            fault = f;
            if (stall !== undefined) stallMs = stall;
        },
        stop: () =>
            new Promise<void>((resolve) => {
                for (const s of sockets) s.destroy();
                server.close(() => resolve());
            }),
    };
}

export const FAULT_KINDS: FaultKind[] = ["500", "503", "throttle", "reset", "stall", "lost"];

/**
 * A fault plan: each call gets a fault with probability `share(call)`, its kind drawn from `kinds`, all from a
 * seeded generator so that a run can be replayed.
 */
export function seededFaults(
    seed: number,
    share: (call: Call) => number,
    kinds: FaultKind[] = FAULT_KINDS,
): (call: Call) => FaultKind | undefined {
    let s = seed;
    const random = () => {
        s = (s * 1103515245 + 12345) % 2 ** 31;
        return s / 2 ** 31;
    };
    return (call) => (random() < share(call) ? kinds[Math.floor(random() * kinds.length)] : undefined);
}
