CREATE TABLE "device_configs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"source_id" uuid,
	"sync_enabled" boolean,
	"min_flush_interval_sec" integer,
	"max_batch_size" integer,
	"retry_cap" integer,
	"maintenance_mode" boolean,
	"min_sdk_version" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "device_configs_max_batch_size_check" CHECK ("device_configs"."max_batch_size" BETWEEN 1 AND 500)
);
--> statement-breakpoint
ALTER TABLE "device_configs" ADD CONSTRAINT "device_configs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_configs" ADD CONSTRAINT "device_configs_source_id_sources_id_fk" FOREIGN KEY ("source_id") REFERENCES "public"."sources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "device_configs_tenant_key" ON "device_configs" USING btree ("tenant_id") WHERE "device_configs"."source_id" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "device_configs_source_key" ON "device_configs" USING btree ("source_id") WHERE "device_configs"."source_id" IS NOT NULL;