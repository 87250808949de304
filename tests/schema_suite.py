"""23 real-world JSON Schemas x 3 inputs each: the suite constrained decoding must pass 100% of the time.

Used by tests/test_structured_suite.py (all of it under the slow mark; a subset in the fast suite) and by
bench/structured.py (grammar compile time per schema).
"""

from __future__ import annotations

from typing import Any

ADDRESS = {
    "type": "object",
    "properties": {
        "street": {"type": "string", "maxLength": 80},
        "city": {"type": "string", "maxLength": 40},
        "postcode": {"type": "string", "pattern": "^[0-9A-Z -]{3,10}$"},
        "country": {"type": "string", "minLength": 2, "maxLength": 2},
    },
    "required": ["city", "country"],
}

SUITE: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "contact",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 60},
                "email": {"type": "string", "format": "email"},
                "phone": {"type": "string", "pattern": "^\\+?[0-9 ()-]{7,20}$"},
            },
            "required": ["name", "email"],
        },
        [
            "Reach Anna Berg at anna.berg@example.org or +46 70 123 4567.",
            "Contact: Tom Okafor, tom@okafor.dev",
            "Email jane.doe@mail.com to talk to Jane Doe; her phone is (555) 010-2030.",
        ],
    ),
    (
        "invoice",
        {
            "type": "object",
            "properties": {
                "invoice_number": {"type": "string", "pattern": "^INV-[0-9]{3,6}$"},
                "date": {"type": "string", "format": "date"},
                "currency": {"enum": ["USD", "EUR", "GBP"]},
                "lines": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 4,
                    "items": {
                        "type": "object",
                        "properties": {
                            "description": {"type": "string", "maxLength": 60},
                            "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                            "unit_price": {"type": "number", "minimum": 0, "maximum": 100000},
                        },
                        "required": ["description", "quantity", "unit_price"],
                    },
                },
                "total": {"type": "number", "minimum": 0},
            },
            "required": ["invoice_number", "date", "currency", "lines", "total"],
        },
        [
            "Invoice INV-2041 dated 2024-03-15: 3 widgets at 9.50 USD each, total 28.50 USD.",
            "Bill no. INV-77 from 1 May 2023. Consulting, 10 hours at 120 EUR. Total due: 1200 EUR.",
            "INV-100200, 2022-12-01, GBP. Two lines: 1 laptop 899.00, 2 mice 15.00. Total 929.00.",
        ],
    ),
    (
        "event",
        {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 80},
                "start": {"type": "string", "format": "date-time"},
                "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 1440},
                "location": {"type": "string", "maxLength": 60},
                "online": {"type": "boolean"},
            },
            "required": ["title", "start", "online"],
        },
        [
            "Team sync on 2025-01-10 at 09:30 UTC for 30 minutes, on Zoom.",
            "The annual gala starts 2024-11-02T19:00:00Z at the City Hall and lasts three hours.",
            "Dentist appointment, March 3rd 2025, 14:15, 45 min, Main Street clinic.",
        ],
    ),
    (
        "sentiment",
        {
            "type": "object",
            "properties": {
                "sentiment": {"enum": ["positive", "negative", "neutral"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "required": ["sentiment", "confidence"],
        },
        [
            "I absolutely loved this phone, best purchase of the year!",
            "The delivery was late and the box was crushed.",
            "The package arrived on Tuesday.",
        ],
    ),
    (
        "server_config",
        {
            "type": "object",
            "properties": {
                "server": {
                    "type": "object",
                    "properties": {
                        "host": {"type": "string", "format": "hostname"},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "tls": {"type": "boolean"},
                    },
                    "required": ["host", "port", "tls"],
                },
                "workers": {"type": "integer", "minimum": 1, "maximum": 64},
                "log_level": {"enum": ["debug", "info", "warning", "error"]},
            },
            "required": ["server", "workers", "log_level"],
        },
        [
            "Run api.example.com on port 8443 with TLS, 8 workers, log at info.",
            "Local dev: localhost:8000, no TLS, one worker, debug logs.",
            "Production cluster node db-1.internal listens on 5432 over TLS with 16 workers; only errors logged.",
        ],
    ),
    (
        "product",
        {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                "name": {"type": "string", "maxLength": 60},
                "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 10000},
                "in_stock": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 5},
            },
            "required": ["sku", "name", "price", "in_stock"],
        },
        [
            "ABC-1234 Wireless Mouse, $24.99, in stock. Tags: electronics, accessories.",
            "The Garden Hose (SKU GRD-0042) costs 35 dollars and is sold out.",
            "Item KTC-9001: chef knife, 89.00, available.",
        ],
    ),
    (
        "recipe",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 60},
                "servings": {"type": "integer", "minimum": 1, "maximum": 20},
                "ingredients": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 8,
                    "items": {"type": "string", "maxLength": 40},
                },
                "vegetarian": {"type": "boolean"},
            },
            "required": ["name", "servings", "ingredients", "vegetarian"],
        },
        [
            "Pancakes for 4: flour, eggs, milk, butter.",
            "Tomato soup serves 2 and needs tomatoes, onion, garlic and stock.",
            "Beef stew (6 people): beef, carrots, potatoes, onions, red wine.",
        ],
    ),
    (
        "address_ref",
        {
            "$defs": {"address": ADDRESS},
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 60},
                "home": {"$ref": "#/$defs/address"},
                "work": {"$ref": "#/$defs/address"},
            },
            "required": ["name", "home"],
        },
        [
            "Lena Fischer lives at Hauptstrasse 5, 10115 Berlin, DE and works in Munich, DE.",
            "Sam Lee: home 12 King St, London, GB.",
            "Pablo, 3 Calle Mayor, 28013 Madrid, Spain; office at 9 Rue de Rivoli, Paris, France.",
        ],
    ),
    (
        "payment_oneof",
        {
            "type": "object",
            "properties": {
                "amount": {"type": "number", "minimum": 0},
                "method": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {
                                "kind": {"const": "card"},
                                "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
                            },
                            "required": ["kind", "last4"],
                        },
                        {
                            "type": "object",
                            "properties": {
                                "kind": {"const": "bank"},
                                "iban": {"type": "string", "pattern": "^[A-Z]{2}[0-9A-Z]{10,30}$"},
                            },
                            "required": ["kind", "iban"],
                        },
                    ]
                },
            },
            "required": ["amount", "method"],
        },
        [
            "Paid 42.00 with the Visa card ending in 4242.",
            "Transfer of 1500 from IBAN DE89370400440532013000.",
            "Card payment, 9.99, card number ends 0005.",
        ],
    ),
    (
        "id_anyof",
        {
            "type": "object",
            "properties": {
                "id": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "format": "uuid"}]},
                "label": {"type": "string", "maxLength": 40},
            },
            "required": ["id"],
        },
        [
            "Record 1432 is labelled 'archive'.",
            "Object 123e4567-e89b-12d3-a456-426614174000, label: primary.",
            "The ticket id is 77.",
        ],
    ),
    (
        "meeting_attendees",
        {
            "type": "object",
            "properties": {
                "topic": {"type": "string", "maxLength": 60},
                "attendees": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 6,
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "maxLength": 40},
                            "role": {"enum": ["host", "speaker", "guest"]},
                        },
                        "required": ["name", "role"],
                    },
                },
            },
            "required": ["topic", "attendees"],
        },
        [
            "Budget review hosted by Ada, with speaker Ben and guest Cleo.",
            "Kickoff: Dan hosts, Eve presents.",
            "Design critique. Host: Fay. Guests: Gus, Hal, Ivy.",
        ],
    ),
    (
        "flight",
        {
            "type": "object",
            "properties": {
                "flight_number": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{1,4}$"},
                "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "to": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "departure": {"type": "string", "format": "date-time"},
                "seat": {"type": "string", "pattern": "^[0-9]{1,2}[A-F]$"},
            },
            "required": ["flight_number", "from", "to", "departure"],
        },
        [
            "Flight LH400 from FRA to JFK departs 2024-07-01T10:35:00Z, seat 32C.",
            "Your booking: BA117, London LHR to New York JFK, 5 Aug 2024 at 08:20.",
            "AF1234 CDG->NCE leaving 2025-02-14 18:00, seat 12A.",
        ],
    ),
    (
        "task_list",
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "task": {"type": "string", "maxLength": 60},
                    "priority": {"type": "integer", "minimum": 1, "maximum": 3},
                    "done": {"type": "boolean"},
                },
                "required": ["task", "priority", "done"],
            },
        },
        [
            "Buy milk (urgent), call mom (done), fix the bike (low priority).",
            "Write the report - high priority, not done.",
            "Finished: taxes. To do: clean garage, book dentist.",
        ],
    ),
    (
        "book",
        {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 80},
                "authors": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "string"}},
                "year": {"type": "integer", "minimum": 1450, "maximum": 2030},
                "isbn": {"type": "string", "pattern": "^(97[89])?[0-9]{9}[0-9X]$"},
            },
            "required": ["title", "authors", "year"],
        },
        [
            "'Dune' by Frank Herbert, published 1965, ISBN 9780441013593.",
            "The Pragmatic Programmer (1999), Andrew Hunt and David Thomas.",
            "Good Omens was written by Terry Pratchett and Neil Gaiman in 1990.",
        ],
    ),
    (
        "weather",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 40},
                "temperature_c": {"type": "number", "minimum": -90, "maximum": 60},
                "condition": {"enum": ["sunny", "cloudy", "rain", "snow", "storm"]},
                "wind_kmh": {"type": "integer", "minimum": 0, "maximum": 400},
            },
            "required": ["city", "temperature_c", "condition"],
        },
        [
            "Oslo: -4 degrees, snowing, wind 20 km/h.",
            "Sunny and 31C in Seville today.",
            "Heavy rain over Mumbai, 27 degrees with strong 45 km/h winds.",
        ],
    ),
    (
        "user_profile_const",
        {
            "type": "object",
            "properties": {
                "schema_version": {"const": 2},
                "username": {"type": "string", "pattern": "^[a-z0-9_]{3,16}$"},
                "age": {"type": "integer", "minimum": 13, "maximum": 120},
                "newsletter": {"type": "boolean"},
            },
            "required": ["schema_version", "username", "newsletter"],
        },
        [
            "New user cool_cat_99, 24 years old, wants the newsletter.",
            "Sign-up: handle 'mike', age 41, no emails please.",
            "Username: zed_x. Opted in to news.",
        ],
    ),
    (
        "order_status",
        {
            "type": "object",
            "properties": {
                "order_id": {"type": "string", "pattern": "^[0-9]{6,10}$"},
                "status": {"enum": ["pending", "shipped", "delivered", "cancelled"]},
                "tracking": {"anyOf": [{"type": "string", "maxLength": 30}, {"type": "null"}]},
            },
            "required": ["order_id", "status", "tracking"],
        },
        [
            "Order 48213377 shipped via UPS, tracking 1Z999AA10123456784.",
            "Your order 123456 was cancelled.",
            "Order #9988776655 delivered yesterday.",
        ],
    ),
    (
        "classification_multi",
        {
            "type": "object",
            "properties": {
                "labels": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {"enum": ["billing", "bug", "feature_request", "account", "other"]},
                },
                "urgent": {"type": "boolean"},
            },
            "required": ["labels", "urgent"],
        },
        [
            "I was charged twice and now I cannot log in! Please help ASAP.",
            "It would be nice to have dark mode.",
            "The export button crashes the app.",
        ],
    ),
    (
        "geo_point",
        {
            "type": "object",
            "properties": {
                "place": {"type": "string", "maxLength": 60},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
            "required": ["place", "lat", "lon"],
        },
        [
            "The Eiffel Tower stands at 48.8584 N, 2.2945 E.",
            "Sydney Opera House: latitude -33.8568, longitude 151.2153.",
            "Meet at Central Park (40.78, -73.97).",
        ],
    ),
    (
        "job_posting",
        {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 60},
                "company": {"type": "string", "maxLength": 60},
                "remote": {"type": "boolean"},
                "salary": {
                    "type": "object",
                    "properties": {
                        "min": {"type": "integer", "minimum": 0},
                        "max": {"type": "integer", "minimum": 0},
                        "currency": {"enum": ["USD", "EUR", "GBP"]},
                    },
                    "required": ["min", "max", "currency"],
                },
                "skills": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 5},
            },
            "required": ["title", "company", "remote"],
        },
        [
            "Acme hires a Senior Python Engineer, fully remote, $150k-$190k. Skills: Python, SQL, AWS.",
            "Junior designer at Studio Nord, Copenhagen office, 40000-48000 EUR.",
            "Data analyst (hybrid) at Globex; Excel and SQL required.",
        ],
    ),
    (
        "transaction_uuid",
        {
            "type": "object",
            "properties": {
                "transaction_id": {"type": "string", "format": "uuid"},
                "timestamp": {"type": "string", "format": "date-time"},
                "amount_cents": {"type": "integer", "minimum": 1},
                "direction": {"enum": ["in", "out"]},
            },
            "required": ["transaction_id", "timestamp", "amount_cents", "direction"],
        },
        [
            "Txn 3f2b8c1e-9d4a-4e7b-8a6f-1c2d3e4f5a6b at 2024-06-01T12:00:00Z: received 25.00.",
            "Paid out $4.99 on 2023-09-09 at 7am, id 0f8fad5b-d9cb-469f-a165-70867728950e.",
            "Incoming 1000 cents, 2025-01-01T00:00:00Z.",
        ],
    ),
    (
        "catalog_defs",
        {
            "$defs": {
                "money": {
                    "type": "object",
                    "properties": {
                        "amount": {"type": "number", "minimum": 0, "maximum": 100000},
                        "currency": {"enum": ["USD", "EUR", "GBP"]},
                    },
                    "required": ["amount", "currency"],
                },
                "item": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "maxLength": 40},
                        "price": {"$ref": "#/$defs/money"},
                    },
                    "required": ["name", "price"],
                },
            },
            "type": "object",
            "properties": {
                "shop": {"type": "string", "maxLength": 40},
                "items": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/$defs/item"}},
            },
            "required": ["shop", "items"],
        },
        [
            "Corner Bakery sells bread for 3.20 EUR and croissants for 1.50 EUR.",
            "At TechHub: headphones $59, charger $19.99.",
            "The Book Nook has one offer: a used atlas for 12 GBP.",
        ],
    ),
    (
        "rating_prefix_items",
        {
            "type": "object",
            "properties": {
                "reviewer": {"type": "string", "maxLength": 40},
                "scores": {
                    "type": "array",
                    "prefixItems": [
                        {"type": "integer", "minimum": 1, "maximum": 5},
                        {"type": "integer", "minimum": 1, "maximum": 5},
                    ],
                    "items": False,
                    "minItems": 2,
                },
                "comment": {"type": "string", "maxLength": 120},
            },
            "required": ["reviewer", "scores"],
        },
        [
            "Kim gave food 5 stars and service 3 stars: 'great pasta, slow waiter'.",
            "Review by Lou - food 2/5, service 4/5.",
            "Max rated both food and service 4.",
        ],
    ),
]
