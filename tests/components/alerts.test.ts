// AmiCleanup's optional alerts under the mock runtime: an EventBridge rule on failed runs, sent to SNS.
import * as assert from "node:assert/strict";
import { ACCOUNT_ID, outputValue, REGION, registrations } from "../setup";

const machineArn = (name: string) =>
    `arn:aws:states:${REGION}:${ACCOUNT_ID}:stateMachine:${name}-machine-0a1b2c3`;

describe("AmiCleanup alerts (mock runtime)", () => {
    const of = (prefix: string, type: string) =>
        registrations.filter((r) => r.name.startsWith(prefix) && r.type === type);

    before(async () => {
        const { AmiCleanup } = await import("../../components/amiCleanup");
        const byEmail = new AmiCleanup("mailed", { validHours: 5, alerts: { email: "ops@example.com" } });
        const byTopic = new AmiCleanup("topical", {
            validHours: 5,
            alerts: { topicArn: "arn:aws:sns:us-east-1:123456789012:pager" },
        });
        const quiet = new AmiCleanup("quiet", { validHours: 5 });
        await Promise.all([byEmail, byTopic, quiet].map((c) => outputValue(c.stateMachineArn)));
        assert.equal(
            await outputValue(byEmail.alertTopicArn),
            `arn:aws:mock:${REGION}:${ACCOUNT_ID}:mailed-alerts-0a1b2c3`,
        );
        assert.equal(await outputValue(byTopic.alertTopicArn), "arn:aws:sns:us-east-1:123456789012:pager");
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
        const [topic] = of("mailed", "aws:sns/topic:Topic");
        assert.ok(topic);
        const topicArn = `arn:aws:mock:${REGION}:${ACCOUNT_ID}:mailed-alerts-0a1b2c3`;
        const [policy] = of("mailed", "aws:sns/topicPolicy:TopicPolicy");
        assert.deepEqual(JSON.parse(policy.inputs.policy as string).Statement, [
            {
                Sid: "PublishCleanupAlerts",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sns:Publish",
                Resource: topicArn,
                Condition: {
                    ArnEquals: {
                        "aws:SourceArn": `arn:aws:mock:${REGION}:${ACCOUNT_ID}:mailed-alerts-0a1b2c3`,
                    },
                },
            },
        ]);
        const [sub] = of("mailed", "aws:sns/topicSubscription:TopicSubscription");
        assert.deepEqual(
            [sub.inputs.topic, sub.inputs.protocol, sub.inputs.endpoint],
            [topicArn, "email", "ops@example.com"],
        );
        const [target] = of("mailed", "aws:cloudwatch/eventTarget:EventTarget");
        assert.equal(target.inputs.arn, topicArn);
    });

    it("with a topic ARN, sends to it and creates no topic", () => {
        assert.deepEqual(of("topical", "aws:sns/topic:Topic"), []);
        const [target] = of("topical", "aws:cloudwatch/eventTarget:EventTarget");
        assert.equal(target.inputs.arn, "arn:aws:sns:us-east-1:123456789012:pager");
    });

    it("without alerts, declares no rule", () => {
        assert.deepEqual(of("quiet", "aws:cloudwatch/eventRule:EventRule"), []);
    });
});
