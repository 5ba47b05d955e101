import type { AppMount } from "../api/app";
import type { ScanObservations } from "../api/context";
import type { AnyRoute } from "../api/routes";
import type { Logger } from "../log";
import { createDispatcher } from "../notifications/dispatcher";
import type { Dispatcher, DispatcherConfig } from "../notifications/dispatcher";
import { subscriptionRoutes } from "../notifications/routes";
import { notificationStream } from "../notifications/stream";
import type { Store } from "../store";
import { alertConfig } from "./config";
import type { AlertConfig } from "./config";
import { createAlertEngine } from "./engine";
import { NOTIFICATION_KINDS } from "./kinds";
import type { AlertEngine } from "./engine";
import { alertRoutes } from "./routes";
import { supervisionRoutes } from "../supervision/routes";
import { createScanObservations } from "./scans";
import { supervisionRecordRoutes } from "../supervision/records";

export { alertConfig, DEFAULT_ALERT_CONFIG } from "./config";
export type { AlertConfig } from "./config";
export { createAlertEngine } from "./engine";
export { createScanObservations } from "./scans";

/** The early-warning side of the service: engine, webhook dispatcher, scan recorder, and what the API serves. */
export type EarlyWarning = {
  /** The thresholds in force, defaults and overrides resolved once: the API's recall deadlines are these. */
  config: AlertConfig;
  engine: AlertEngine;
  dispatcher: Dispatcher;
  observations: ScanObservations;
  routes: AnyRoute[];
  mounts: AppMount[];
  start(): void;
  stop(): Promise<void>;
};

export type EarlyWarningOptions = {
  store: Store;
  log: Logger;
  /** The API secret, which webhook secrets are sealed with. */
  apiSecret: Buffer;
  alerts?: Partial<AlertConfig>;
  webhooks?: Partial<DispatcherConfig>;
  /** Unix seconds. */
  now?: () => number;
};

/** Builds the engine and the dispatcher over `store`; start() runs both beside the indexer. */
export function createEarlyWarning(options: EarlyWarningOptions): EarlyWarning {
  const config = alertConfig(options.alerts);
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const engine = createAlertEngine({ store: options.store, config, log: options.log, now });
  const dispatcher = createDispatcher({ store: options.store, log: options.log, apiSecret: options.apiSecret, config: options.webhooks });
  const stream = notificationStream();
  return {
    config,
    engine,
    dispatcher,
    observations: createScanObservations(options.store, options.log),
    routes: [
      ...alertRoutes(config),
      ...supervisionRoutes(config),
      ...supervisionRecordRoutes(config),
      ...subscriptionRoutes(NOTIFICATION_KINDS, options.webhooks),
    ],
    mounts: [stream.mount],
    start() {
      engine.start();
      dispatcher.start();
    },
    async stop() {
      stream.close();
      await engine.stop();
      await dispatcher.stop();
    },
  };
}
