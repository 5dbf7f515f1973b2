package config_test

import (
	"fmt"

	"github.com/parjarm/parjarm/config"
)

func ExampleLoad() {
	cfg, err := config.Load(map[string]string{
		"PARJARM_UPSTREAM_URL": "http://idp.internal:8080",
		"PARJARM_REDIS_URL":    "redis://:secret@redis:6379/0",
		"PARJARM_PAR_LIFETIME": "90s",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.UpstreamURL.Host, cfg.StoreKind(), cfg.PARLifetime)
	fmt.Println(cfg.Redacted()["PARJARM_REDIS_URL"])
	// Output:
	// idp.internal:8080 redis 1m30s
	// redis://:xxxxx@redis:6379/0
}

func ExampleLoad_invalid() {
	_, err := config.Load(map[string]string{
		"PARJARM_UPSTREAM_URL": "http://idp.internal:8080",
		"PARJARM_PAR_LIFETIME": "900s",
		"PARJARM_LOG_LEVEL":    "verbose",
	})
	fmt.Println(err)
	// Output:
	// PARJARM_PAR_LIFETIME: 900s is above the 600s maximum (RFC 9126 section 2.2 suggests short lifetimes); use at most 600s
	// PARJARM_LOG_LEVEL: "verbose" is not a level; use debug, info, warn or error
}

func ExampleConfig_Resolve() {
	cfg, err := config.Load(map[string]string{
		"PARJARM_UPSTREAM_URL": "http://idp.internal:8080",
		"PARJARM_PUBLIC_URL":   "https://gw.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := cfg.Resolve("https://login.example.com/realms/bank")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Issuer)
	fmt.Println(r.PublicURL)
	// Output:
	// https://login.example.com/realms/bank
	// https://gw.example.com
}
