// AmiCleanup's optional alerts under the mock runtime: an EventBridge rule on failed runs, sent to SNS.
import * as assert from "node:assert/strict";
import { settingsWith } from "../../functions/core/ami/settings";
import { ACCOUNT_ID, outputValue, REGION, registrations } from "../setup";

const machineArn = (name: string) =>
    `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:${name}-machine-0a1b2c3`;
const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT_ID}:mailed-alerts-0a1b2c3`;
const ruleArn = `arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/mailed-alerts-0a1b2c3`;
const PAGER = "arn:aws:sns:us-east-1:123456789012:pager";

describe("AmiCleanup alerts (mock runtime)", () => {
    const of = (prefix: string, type: string) =>
        registrations.filter((r) => r.name.startsWith(`${prefix}-`) && r.type === type);
    // biome-ignore lint/suspicious/noExplicitAny: three components of the module loaded under the mocks
    let byEmail: any, byTopic: any, quiet: any;

    before(async () => {
        const { AmiCleanup } = await import("../../components/amiCleanup");
        const settings = settingsWith({ validHours: 5 });
        byEmail = new AmiCleanup("mailed", { settings, alerts: { email: "ops@example.com" } });
        byTopic = new AmiCleanup("topical", { settings, alerts: { topicArn: PAGER } });
        quiet = new AmiCleanup("quiet", { settings });
        await Promise.all([byEmail, byTopic, quiet].map((c) => outputValue(c.stateMachineArn)));
    });

    it("outputs the topic alerts go to: the new one, the given one, or none", async () => {
        assert.equal(await outputValue(byEmail.alertTopicArn), topicArn);
        assert.equal(await outputValue(byTopic.alertTopicArn), PAGER);
        assert.equal(await outputValue(quiet.alertTopicArn), undefined);
    });

    it("watches exactly this state machine's failed, timed-out and aborted executions", () => {
        const [rule] = of("mailed", "aws:cloudwatch/eventRule:EventRule");
        assert.deepEqual(JSON.parse(rule.inputs.eventPattern as string), {
            source: ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn: [machineArn("mailed")] },
        });
    });

    it("with an email, creates a topic only this rule may publish to, and subscribes the address", () => {
        assert.equal(of("mailed", "aws:sns/topic:Topic").length, 1);
        const [policy] = of("mailed", "aws:sns/topicPolicy:TopicPolicy");
        assert.equal(policy.inputs.arn, topicArn);
        assert.deepEqual(JSON.parse(policy.inputs.policy as string).Statement, [
            {
                Sid: "PublishCleanupAlerts",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sns:Publish",
                Resource: topicArn,
                Condition: { ArnEquals: { "aws:SourceArn": ruleArn } },
            },
        ]);
        const [sub] = of("mailed", "aws:sns/topicSubscription:TopicSubscription");
        assert.deepEqual(
            [sub.inputs.topic, sub.inputs.protocol, sub.inputs.endpoint],
            [topicArn, "email", "ops@example.com"],
        );
        const [target] = of("mailed", "aws:cloudwatch/eventTarget:EventTarget");
        assert.deepEqual([target.inputs.rule, target.inputs.arn], ["mailed-alerts-0a1b2c3", topicArn]);
    });

    it("with a topic ARN, sends to it and creates no topic", () => {
        assert.deepEqual(of("topical", "aws:sns/topic:Topic"), []);
        const [target] = of("topical", "aws:cloudwatch/eventTarget:EventTarget");
        assert.equal(target.inputs.arn, PAGER);
    });

    it("without alerts, declares no rule", () => {
        assert.deepEqual(of("quiet", "aws:cloudwatch/eventRule:EventRule"), []);
    });
});
