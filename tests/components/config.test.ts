// Stack config validation: defaults, accepted forms, and an error naming the key and value for each bad one.
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROGRAM_DEFAULTS, readJanitorConfig } from "../../components/config";
import { validSchedule } from "../../components/scheduleExpression";
import { DEFAULT_SETTINGS, SETTINGS, type SettingKey } from "../../functions/core/ami/settings";

/** Every config key's default: the cleanup's settings and the program's own keys. */
const DEFAULTS = { ...DEFAULT_SETTINGS, ...PROGRAM_DEFAULTS };

const read = (values: Record<string, string>, stackRegion: string | undefined = "eu-west-1") =>
    readJanitorConfig({ get: (k) => values[k] }, "Prod_EU", stackRegion);

describe("stack config", () => {
    it("applies the documented defaults, deriving the repository name from the stack", () => {
        assert.deepEqual(read({}), {
            ...PROGRAM_DEFAULTS,
            settings: DEFAULT_SETTINGS,
            repositoryName: "image-janitor-prod-eu",
            regions: ["eu-west-1"],
        });
        assert.deepEqual(DEFAULTS, {
            validHours: 168,
            schedule: "rate(1 hour)",
            dryRun: false,
            maxConcurrency: 2,
            callsPerBatch: 4,
            regions: "",
            logRetentionDays: 30,
            repositoryName: "",
            keepImages: 20,
            untaggedExpiryDays: 14,
            immutableTags: false,
            ecrEmptyMode: "dynamic",
            keepTagKey: "image-janitor:keep",
            keepLatest: 0,
            groupByTag: "",
            protectInUse: true,
            protectUnattachedLaunchConfigurations: true,
            keepPublic: true,
            keepShared: true,
            keepLaunchedWithinDays: 0,
            sweepOrphanSnapshots: false,
            disableForHours: 0,
            recycleBinDays: 0,
            alertEmail: "",
            alertTopicArn: "",
        });
    });

    it("declares every key in Pulumi.yaml with its type, its default and a description", () => {
        const project = parse(readFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), "utf8"));
        const declared = project.config as Record<
            string,
            { type: string; default?: unknown; description: string }
        >;
        assert.deepEqual(Object.keys(declared).sort(), Object.keys(DEFAULTS).sort());
        const typeOf = (key: string, v: unknown) =>
            key in SETTINGS ? SETTINGS[key as SettingKey].type : typeof v === "number" ? "integer" : typeof v;
        for (const [key, value] of Object.entries(DEFAULTS)) {
            const d = declared[key];
            assert.ok(d.description.length > 20, `${key} has a description`);
            if (key === "regions") {
                assert.deepEqual([d.type, d.default], ["array", undefined], "regions defaults to aws:region");
            } else {
                assert.deepEqual([key, d.type, d.default], [key, typeOf(key, value), value]);
            }
        }
    });

    it("the dev stack is safe to deploy first: a dry run, and only AMIs older than a day", () => {
        const dev = parse(readFileSync(join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8"))
            .config as Record<string, string>;
        const values = Object.fromEntries(
            Object.entries(dev)
                .filter(([k]) => k.startsWith("image-janitor:"))
                .map(([k, v]) => [k.slice("image-janitor:".length), String(v)]),
        );
        const { settings } = readJanitorConfig({ get: (k) => values[k] }, "dev", dev["aws:region"]);
        assert.deepEqual([settings.dryRun, settings.validHours], [true, 24]);
    });

    it("reads every key", () => {
        const all = {
            validHours: "1",
            schedule: "cron(0 3 * * ? *)",
            dryRun: "true",
            maxConcurrency: "40",
            callsPerBatch: "20",
            regions: '["us-east-1","eu-central-1","us-gov-west-1"]',
            logRetentionDays: "365",
            repositoryName: "team/web-app",
            keepImages: "0",
            untaggedExpiryDays: "3",
            immutableTags: "true",
            ecrEmptyMode: "cloudformation",
            keepTagKey: "retain",
            keepLatest: "2",
            groupByTag: "app",
            protectInUse: "false",
            protectUnattachedLaunchConfigurations: "false",
            keepPublic: "false",
            keepShared: "false",
            keepLaunchedWithinDays: "30",
            sweepOrphanSnapshots: "true",
            disableForHours: "72",
            recycleBinDays: "14",
            alertEmail: "ops@example.com",
        };
        assert.deepEqual(read(all), {
            settings: {
                validHours: 1,
                dryRun: true,
                maxConcurrency: 40,
                callsPerBatch: 20,
                keepTagKey: "retain",
                keepLatest: 2,
                groupByTag: "app",
                protectInUse: false,
                protectUnattachedLaunchConfigurations: false,
                keepPublic: false,
                keepShared: false,
                keepLaunchedWithinDays: 30,
                sweepOrphanSnapshots: true,
                disableForHours: 72,
                recycleBinDays: 14,
            },
            schedule: "cron(0 3 * * ? *)",
            regions: ["us-east-1", "eu-central-1", "us-gov-west-1"],
            logRetentionDays: 365,
            repositoryName: "team/web-app",
            keepImages: 0,
            untaggedExpiryDays: 3,
            immutableTags: true,
            ecrEmptyMode: "cloudformation",
            alertEmail: "ops@example.com",
            alertTopicArn: "",
        });
    });

    const bad: [string, string, string][] = [
        [
            "validHours",
            "0",
            'invalid config image-janitor:validHours must be a whole number 1 or more (got "0")',
        ],
        [
            "validHours",
            "-5",
            'invalid config image-janitor:validHours must be a whole number 1 or more (got "-5")',
        ],
        [
            "validHours",
            "abc",
            'invalid config image-janitor:validHours must be a whole number 1 or more (got "abc")',
        ],
        [
            "validHours",
            "",
            'invalid config image-janitor:validHours must be a whole number 1 or more (got "")',
        ],
        ["dryRun", "yes", 'invalid config image-janitor:dryRun must be true or false (got "yes")'],
        [
            "maxConcurrency",
            "0",
            'invalid config image-janitor:maxConcurrency must be a whole number from 1 to 40 (got "0")',
        ],
        [
            "maxConcurrency",
            "100",
            'invalid config image-janitor:maxConcurrency must be a whole number from 1 to 40 (got "100")',
        ],
        [
            "keepImages",
            "-1",
            'invalid config image-janitor:keepImages must be a whole number from 0 to 10000 (got "-1")',
        ],
        [
            "untaggedExpiryDays",
            "two",
            'invalid config image-janitor:untaggedExpiryDays must be a whole number from 0 to 36500 (got "two")',
        ],
        ["immutableTags", "1", 'invalid config image-janitor:immutableTags must be true or false (got "1")'],
        [
            "ecrEmptyMode",
            "terraform",
            'invalid config image-janitor:ecrEmptyMode must be one of dynamic, cloudformation (got "terraform")',
        ],
        [
            "keepLatest",
            "-1",
            'invalid config image-janitor:keepLatest must be a whole number from 0 to 1000 (got "-1")',
        ],
        [
            "protectInUse",
            "maybe",
            'invalid config image-janitor:protectInUse must be true or false (got "maybe")',
        ],
        [
            "keepLaunchedWithinDays",
            "3651",
            'invalid config image-janitor:keepLaunchedWithinDays must be a whole number from 0 to 3650 (got "3651")',
        ],
        ["keepShared", "no", 'invalid config image-janitor:keepShared must be true or false (got "no")'],
        [
            "keepTagKey",
            "aws:secret",
            'invalid config image-janitor:keepTagKey must be a tag key of 1 to 128 characters, not starting with aws: (got "aws:secret")',
        ],
        [
            "keepTagKey",
            "",
            'invalid config image-janitor:keepTagKey must be a tag key of 1 to 128 characters, not starting with aws: (got "")',
        ],
        [
            "alertEmail",
            "ops",
            'invalid config image-janitor:alertEmail must be an email address, or empty for none (got "ops")',
        ],
        [
            "alertTopicArn",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "invalid config image-janitor:alertTopicArn must be an SNS topic ARN like arn:aws:sns:eu-west-1:123456789012:alerts, " +
                'or empty (got "arn:aws:sqs:us-east-1:123456789012:q")',
        ],
        [
            "repositoryName",
            "Web_App",
            "invalid config image-janitor:repositoryName must be an ECR repository name: 2 to 256 of a-z 0-9 . _ - /, " +
                'starting and ending with a letter or digit (got "Web_App")',
        ],
    ];
    for (const [key, value, message] of bad) {
        it(`rejects ${key}=${JSON.stringify(value)} naming the key and the value`, () => {
            assert.throws(() => read({ [key]: value }), { name: "ImageJanitor.InvalidInput", message });
        });
    }

    it("takes regions as a JSON list or comma-separated, defaulting to the stack's region", () => {
        assert.deepEqual(read({ regions: "us-east-1, ap-southeast-2" }).regions, [
            "us-east-1",
            "ap-southeast-2",
        ]);
        assert.deepEqual(read({ regions: "" }, "sa-east-1").regions, ["sa-east-1"]);
        const allowed = 'a list of AWS regions, e.g. ["us-east-1","eu-west-1"] or us-east-1,eu-west-1';
        const cases: [Record<string, string>, string | undefined, string][] = [
            [{}, undefined, `${allowed}, or aws:region set (got "")`],
            [{ regions: "[]" }, "eu-west-1", `${allowed} (got "[]")`],
            [{ regions: '["us-east-1"' }, "eu-west-1", `${allowed} (got "[\\"us-east-1\\"")`],
            [
                { regions: "us-east-1,Mars" },
                "eu-west-1",
                `an AWS region, e.g. us-east-1 or eu-west-1 (got "Mars")`,
            ],
            [{ regions: "[1]" }, "eu-west-1", "an AWS region, e.g. us-east-1 or eu-west-1 (got 1)"],
            // The shape of a region, but no region @pulumi/aws knows.
            [
                { regions: "xx-nowhere-9" },
                "eu-west-1",
                `an AWS region, e.g. us-east-1 or eu-west-1 (got "xx-nowhere-9")`,
            ],
            [
                { regions: "us-east-1,eu-west-1,us-east-1" },
                "eu-west-1",
                `regions without repeats (us-east-1 is given twice) (got "us-east-1,eu-west-1,us-east-1")`,
            ],
        ];
        for (const [values, stackRegion, message] of cases) {
            assert.throws(() => readJanitorConfig({ get: (k) => values[k] }, "Prod_EU", stackRegion), {
                name: "ImageJanitor.InvalidInput",
                message: `invalid config image-janitor:regions must be ${message}`,
            });
        }
    });

    it("refuses groupByTag without keepLatest: it would do nothing", () => {
        assert.throws(() => read({ groupByTag: "app" }), {
            name: "ImageJanitor.InvalidInput",
            message:
                'invalid config image-janitor:groupByTag must be empty while keepLatest is 0: it groups AMIs for keepLatest and does nothing else; set keepLatest to 1 or more (got "app")',
        });
        assert.equal(read({ groupByTag: "app", keepLatest: "1" }).settings.groupByTag, "app");
    });

    it("takes an alert email or an alert topic, not both", () => {
        assert.equal(
            read({ alertTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts" }).alertTopicArn,
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        );
        assert.throws(
            () =>
                read({
                    alertEmail: "ops@example.com",
                    alertTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts",
                }),
            {
                name: "ImageJanitor.InvalidInput",
                message:
                    'invalid config image-janitor:alertEmail and alertTopicArn are exclusive: set one (got "ops@example.com" and "arn:aws:sns:eu-west-1:123456789012:alerts")',
            },
        );
    });

    it("rejects a log retention CloudWatch does not offer, listing those it does", () => {
        assert.throws(() => read({ logRetentionDays: "10" }), {
            message:
                /^invalid config image-janitor:logRetentionDays must be one of CloudWatch Logs' retention periods: 1, 3, 5, 7, 14, 30,.* \(got "10"\)$/,
        });
    });

    it("accepts EventBridge Scheduler's rate and cron expressions, as its user guide defines them", () => {
        for (const ok of [
            "rate(1 hour)",
            "rate(30 minutes)",
            "rate(1 day)",
            "rate(2 days)",
            "rate(365 days)",
            "cron(0 * * * ? *)",
            "cron(15 10 ? * MON-FRI *)",
            "cron(0/15 8-18 ? * 2-6 2026-2030)",
            "cron(0 3 L * ? *)",
            "cron(0 3 15W * ? *)",
            "cron(0 3 ? * 6L *)",
            "cron(0 3 ? * 3#2 *)",
            "cron(0 12 1,15 JAN,JUL ? *)",
        ]) {
            assert.equal(validSchedule(ok), ok);
        }
    });

    for (const [value, why] of [
        ["rate(1 hours)", "the value is 1 or more, with the singular unit only for 1"],
        ["rate(2 hour)", "the value is 1 or more, with the singular unit only for 1"],
        ["rate(0 minutes)", "the value is 1 or more, with the singular unit only for 1"],
        ["rate(100000000000 minutes)", "at most a year (525600 minutes)"],
        ["rate(400 days)", "at most a year (365 days)"],
        ["cron(99 99 ? 99 99 99)", 'its minutes field "99" is not 0-59 with , - * /'],
        ["cron(0 24 * * ? *)", 'its hours field "24" is not 0-23 with , - * /'],
        ["cron(0 3 32 * ? *)", 'its day-of-month field "32" is not 1-31 with , - * / and its specials'],
        ["cron(0 3 ? FOO * *)", 'its month field "FOO" is not 1-12 or JAN-DEC with , - * /'],
        [
            "cron(0 3 ? * 8 *)",
            'its day-of-week field "8" is not 1-7 or SUN-SAT with , - * / and its specials',
        ],
        ["cron(0 3 * * ? 1969)", 'its year field "1969" is not 1970-2199 with , - * /'],
        [
            "cron(0 3 ? * 3#6 *)",
            'its day-of-week field "3#6" is not 1-7 or SUN-SAT with , - * / and its specials',
        ],
        ["cron(10-5 * * * ? *)", 'its minutes field "10-5" is not 0-59 with , - * /'],
        ["cron(0 * * * * *)", "exactly one of day-of-month or day-of-week is ?"],
        ["cron(0 * * * *)", "cron takes six fields"],
    ] as [string, string][]) {
        it(`rejects schedule ${JSON.stringify(value)}: ${why}`, () => {
            assert.throws(() => read({ schedule: value }), {
                message: `invalid config image-janitor:schedule must be rate(N minute|minutes|hour|hours|day|days) or cron(minutes hours day-of-month month day-of-week year), e.g. "rate(1 hour)"; ${why} (got ${JSON.stringify(value)})`,
            });
        });
    }

    for (const value of ["every hour", "rate(1 week)", ""]) {
        it(`rejects schedule ${JSON.stringify(value)}`, () => {
            assert.throws(() => read({ schedule: value }), {
                message: /^invalid config image-janitor:schedule must be rate\(N .*\(got ".*"\)$/,
            });
        });
    }

    for (const value of [
        "a@b..c",
        "<script>@x.y",
        "ops@example",
        "ops@-example.com",
        "o..ps@example.com",
        "ops@example.c",
    ]) {
        it(`rejects alertEmail ${JSON.stringify(value)}`, () => {
            assert.throws(() => read({ alertEmail: value }), {
                message: `invalid config image-janitor:alertEmail must be an email address, or empty for none (got ${JSON.stringify(value)})`,
            });
        });
    }

    it("accepts the email addresses SNS delivers to", () => {
        for (const ok of ["ops@example.com", "first.last+alerts@mail.example.co.uk", "o'brien@example.ie"])
            assert.equal(read({ alertEmail: ok }).alertEmail, ok);
    });
});
