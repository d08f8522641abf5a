// The one settings parser: defaults, each caller's names in its errors, the rules between settings, and flags.
import * as assert from "node:assert/strict";
import {
    DEFAULT_SETTINGS,
    flagOf,
    parseSettings,
    SETTING_KEYS,
    settingsWith,
} from "../../functions/core/ami/settings";
import { ErrorNames } from "../../functions/core/shared/errors";

const asConfig = { nameOf: (k: string) => k };
const asFlags = { nameOf: (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` };

describe("cleanup settings", () => {
    it("defaults every setting, once", () => {
        assert.deepEqual(parseSettings({}, asConfig), DEFAULT_SETTINGS);
        assert.deepEqual(DEFAULT_SETTINGS, {
            validHours: 168,
            dryRun: false,
            maxConcurrency: 2,
            callsPerBatch: 4,
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
        });
    });

    it("reads config's and flags' strings and the event's typed values to the same settings", () => {
        const typed = settingsWith({ validHours: 6, dryRun: true, keepLatest: 2, groupByTag: "app" });
        const strings = parseSettings(
            { validHours: "6", dryRun: "true", keepLatest: "2", groupByTag: "app" },
            asConfig,
        );
        assert.deepEqual(strings, typed);
    });

    it("names the key as each caller's user wrote it, with the value and what is allowed", () => {
        for (const [opts, name] of [
            [asConfig, "maxConcurrency"],
            [asFlags, "--max-concurrency"],
            [{ nameOf: (k: string) => `settings.${k}` }, "settings.maxConcurrency"],
        ] as const) {
            assert.throws(() => parseSettings({ maxConcurrency: "41" }, opts), {
                name: ErrorNames.invalidInput,
                message: `${name} must be a whole number from 1 to 40 (got "41")`,
            });
        }
    });

    it("refuses groupByTag while keepLatest is off, naming both", () => {
        assert.throws(() => parseSettings({ groupByTag: "app" }, asFlags), {
            message:
                '--group-by-tag must be empty while --keep-latest is 0: it groups AMIs for --keep-latest and does nothing else; set --keep-latest to 1 or more (got "app")',
        });
    });

    it("requires what the caller requires, and refuses unknown keys where asked", () => {
        assert.throws(() => parseSettings({}, { ...asFlags, required: ["validHours"] }), {
            message: "--valid-hours is required",
        });
        assert.throws(() => settingsWith({ validHour: 3 } as never), {
            message: /^validHour must be absent: it is not a setting \(validHours, dryRun, /,
        });
    });

    it("names each setting's runner flag in kebab-case, --no- for a switch that is on by default", () => {
        assert.deepEqual(SETTING_KEYS.map(flagOf), [
            "valid-hours",
            "dry-run",
            "max-concurrency",
            "calls-per-batch",
            "keep-tag-key",
            "keep-latest",
            "group-by-tag",
            "no-protect-in-use",
            "no-protect-unattached-launch-configurations",
            "no-keep-public",
            "no-keep-shared",
            "keep-launched-within-days",
            "sweep-orphan-snapshots",
            "disable-for-hours",
            "recycle-bin-days",
        ]);
    });
});
