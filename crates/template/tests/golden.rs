//! Golden cases: (template, data, expected output) and (template, data,
//! expected error), with expectations taken from Go's text/template and
//! docker's template functions; and tabwriter layouts as docker prints them.

use berth_template::{render, strip_table, tabwrite, Error, Template};
use serde_json::{json, Value};

fn container() -> Value {
    json!({
        "ID": "4c01db0b339c",
        "Image": "ubuntu:22.04",
        "Names": ["web", "db"],
        "Labels": {"b": "2", "a": "1", "com.docker.compose.project": "demo"},
        "State": {"Running": true, "Status": "running", "Health": null, "ExitCode": 0, "Pid": 1234},
        "Ports": [],
        "Mounts": [{"Source": "/a", "Destination": "/b"}],
        "Size": 1234567,
        "CPU": 12.5,
        "Empty": "",
        "Zero": 0,
        "Nested": {"A": {"B": {"C": "deep"}}},
        "Nums": [3, 1, 2],
        "Float": 2.0
    })
}

const ID: &str = "4c01db0b339c";

/// (template, expected) run against `container()`.
const CASES: &[(&str, &str)] = &[
    // Text and printing.
    ("plain text", "plain text"),
    (r"tab\tstays", r"tab\tstays"),
    ("tab\treal", "tab\treal"),
    ("{{.ID}}", ID),
    ("{{ .ID }}", ID),
    ("{{.State.Status}}", "running"),
    ("{{.Nested.A.B.C}}", "deep"),
    ("{{.Missing}}", "<no value>"),
    ("{{.Missing.Deeper}}", "<no value>"),
    ("{{.State.Health}}", "<no value>"),
    ("{{.Names}}", "[web db]"),
    (
        "{{.Labels}}",
        "map[a:1 b:2 com.docker.compose.project:demo]",
    ),
    ("{{.Mounts}}", "[map[Destination:/b Source:/a]]"),
    ("{{.State.Running}} {{.State.ExitCode}}", "true 0"),
    ("{{.Size}} {{.CPU}} {{.Float}}", "1234567 12.5 2"),
    ("{{1e6}} {{1e3}} {{0.00001}}", "1e+06 1000 1e-05"),
    (
        r#"{{1.5}} {{-3}} {{0x1F}} {{017}} {{1_000}} {{'a'}} {{true}} {{"s\t\u00e9"}} {{`r\n`}}"#,
        "1.5 -3 31 15 1000 97 true s\té r\\n",
    ),
    ("{{print nil}} {{print .Missing}}", "<nil> <nil>"),
    // Trim markers and comments.
    ("a  {{- .ID -}}  b", "a4c01db0b339cb"),
    ("{{23 -}} < {{- 45}}", "23<45"),
    ("x\n  {{- /* comment */ -}}\n  y", "xy"),
    ("a{{/* c */}}b", "ab"),
    ("a\n{{- if true}}\n  b\n{{- end}}\n", "a\n  b\n"),
    ("{{.ID\n}}", ID),
    // Variables.
    ("{{$x := .ID}}{{$x}}", ID),
    ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
    ("{{$.ID}}", ID),
    ("{{$n := .Nested}}{{$n.A.B.C}}", "deep"),
    (
        "{{range .Names}}{{$.ID}}-{{.}} {{end}}",
        "4c01db0b339c-web 4c01db0b339c-db ",
    ),
    (
        "{{with .State}}{{$.Image}} {{.Status}}{{end}}",
        "ubuntu:22.04 running",
    ),
    ("{{$x := 0}}{{range .Nums}}{{$x = .}}{{end}}{{$x}}", "2"),
    ("{{if true}}{{$y := 5}}{{$y}}{{end}}", "5"),
    ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21"),
    // range
    ("{{range .Names}}[{{.}}]{{end}}", "[web][db]"),
    (
        "{{range $i, $n := .Names}}{{$i}}={{$n}};{{end}}",
        "0=web;1=db;",
    ),
    ("{{range $n := .Names}}{{$n}},{{end}}", "web,db,"),
    (
        "{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}",
        "a=1 b=2 com.docker.compose.project=demo ",
    ),
    ("{{range .Labels}}{{.}}{{end}}", "12demo"),
    ("{{range .Ports}}x{{else}}none{{end}}", "none"),
    ("{{range .Missing}}x{{else}}none{{end}}", "none"),
    ("{{range .State.Health}}x{{else}}none{{end}}", "none"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    (
        "{{range .Nums}}{{if eq . 1}}{{break}}{{end}}{{.}}{{end}}",
        "3",
    ),
    (
        "{{range .Nums}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}",
        "32",
    ),
    (
        "{{range .Mounts}}{{.Source}}:{{.Destination}}{{end}}",
        "/a:/b",
    ),
    (
        "{{range .Names}}{{range $.Nums}}{{.}}{{end}};{{end}}",
        "312;312;",
    ),
    // if / else if / else
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    (
        "{{if .Empty}}a{{else if .Zero}}b{{else if .Names}}c{{else}}d{{end}}",
        "c",
    ),
    ("{{if .Empty}}a{{else if .Zero}}b{{else}}d{{end}}", "d"),
    ("{{if .Missing}}a{{else}}b{{end}}", "b"),
    ("{{if .Ports}}a{{else}}b{{end}}", "b"),
    ("{{if .Labels}}a{{end}}", "a"),
    ("{{if .State.Health}}a{{else}}b{{end}}", "b"),
    ("{{if 0.0}}a{{else}}b{{end}}", "b"),
    ("{{if \"0\"}}a{{else}}b{{end}}", "a"),
    ("{{if and .State.Running (gt .Size 100)}}big{{end}}", "big"),
    ("{{if not .Empty}}empty{{end}}", "empty"),
    ("{{if $x := .State.Status}}{{$x}}{{end}}", "running"),
    // with
    ("{{with .State}}{{.Status}}{{end}}", "running"),
    ("{{with .Missing}}x{{else}}none{{end}}", "none"),
    ("{{with .Empty}}x{{else with .ID}}{{.}}{{end}}", ID),
    ("{{with $s := .State.Status}}{{$s}}{{end}}", "running"),
    // Pipelines and parentheses.
    ("{{.Names | len}}", "2"),
    ("{{.ID | printf \"%.5s\"}}", "4c01d"),
    ("{{.Image | upper | lower}}", "ubuntu:22.04"),
    ("{{(index .Mounts 0).Source}}", "/a"),
    ("{{len (split .Image \":\")}}", "2"),
    (
        "{{printf \"%s-%s\" (index .Names 0) (index .Names 1)}}",
        "web-db",
    ),
    ("{{\"x\" | printf \"%s%s\" \"y\"}}", "yx"),
    // Go builtins.
    (
        "{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 false}}",
        "0 2 x false",
    ),
    ("{{and false (index .Names 99)}}", "false"),
    ("{{or .ID (index .Names 99)}}", ID),
    ("{{not 0}} {{not .Names}}", "true false"),
    (
        "{{len .Names}} {{len .Labels}} {{len .ID}} {{len .State.Health}}",
        "2 3 12 0",
    ),
    ("{{index .Names 1}}", "db"),
    ("{{index .Labels \"a\"}}", "1"),
    ("{{index .Labels \"zz\"}}", "<no value>"),
    ("{{index .Labels \"com.docker.compose.project\"}}", "demo"),
    ("{{index .Nested \"A\" \"B\" \"C\"}}", "deep"),
    ("{{index .ID 0}}", "52"),
    ("{{index .Names}}", "[web db]"),
    (
        "{{slice .ID 0 4}} {{slice .ID 8}} {{slice .ID}}",
        "4c01 339c 4c01db0b339c",
    ),
    (
        "{{slice .Names 1}} {{slice .Nums 0 2}} {{slice .Nums 1 2 3}}",
        "[db] [3 1] [1]",
    ),
    ("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3"),
    ("{{print}}", ""),
    ("{{println .ID 1}}", "4c01db0b339c 1\n"),
    (
        "{{printf \"%-8s|%5d|%v|%q|%t|%.1f|%x|%%\" \"ab\" 42 .Names \"q\" true 3.14159 255}}",
        "ab      |   42|[web db]|\"q\"|true|3.1|ff|%",
    ),
    ("{{printf \"%-20s|\" .Image}}", "ubuntu:22.04        |"),
    ("{{printf \"%d %s\" \"x\"}}", "%!d(string=x) %!s(MISSING)"),
    ("{{printf \"%v\" .Missing}}", "<nil>"),
    ("{{printf \"%.2f%%\" .CPU}}", "12.50%"),
    (
        "{{eq .State.Status \"running\"}} {{eq 1 2 3 1}} {{eq 1 2}}",
        "true true false",
    ),
    ("{{ne 1 2}} {{ne \"a\" \"a\"}}", "true false"),
    (
        "{{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2}}",
        "true true true false",
    ),
    ("{{eq 2 2.0}} {{lt .Zero .Size}}", "true true"),
    (
        "{{eq .Missing \"x\"}} {{eq .Missing nil}} {{eq .State.Running true}}",
        "false true true",
    ),
    // docker's functions.
    ("{{json .Names}}", r#"["web","db"]"#),
    (
        "{{json .State}}",
        r#"{"Running":true,"Status":"running","Health":null,"ExitCode":0,"Pid":1234}"#,
    ),
    (
        "{{json .Missing}} {{json .CPU}} {{json .Float}}",
        "null 12.5 2",
    ),
    ("{{json \"a<b&c\"}}", r#""a<b&c""#),
    (
        "{{json .Mounts}}",
        r#"[{"Source":"/a","Destination":"/b"}]"#,
    ),
    ("{{join .Names \", \"}}", "web, db"),
    ("{{join .Ports \",\"}}|{{join .Missing \",\"}}", "|"),
    ("{{split .Image \":\"}}", "[ubuntu 22.04]"),
    ("{{range split \"a,b,c\" \",\"}}<{{.}}>{{end}}", "<a><b><c>"),
    (
        "{{title \"hello world\"}} {{title .State.Status}}",
        "Hello World Running",
    ),
    ("{{lower \"ABC\"}} {{upper \"abc\"}}", "abc ABC"),
    (
        "[{{pad .ID 1 2}}] [{{pad \"\" 1 2}}]",
        "[ 4c01db0b339c  ] []",
    ),
    ("{{truncate .ID 4}} {{truncate \"ab\" 5}}", "4c01 ab"),
    ("{{println \"x\"}}", "x\n"),
];

#[test]
fn golden_outputs() {
    let data = container();
    let mut failures = Vec::new();
    for (src, want) in CASES {
        match render(src, &data) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{src:?}\n   want {want:?}\n    got {got:?}")),
            Err(e) => failures.push(format!("{src:?}\n   want {want:?}\n  error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn other_data_shapes() {
    let cases: &[(&str, Value, &str)] = &[
        ("{{.}}", json!("x"), "x"),
        ("{{.}}", Value::Null, "<no value>"),
        ("{{.X}}", Value::Null, "<no value>"),
        ("{{.}}", json!([1, null, "a"]), "[1 <nil> a]"),
        (
            "{{range .}}{{.}},{{end}}",
            json!([null, 1]),
            "<no value>,1,",
        ),
        (
            "{{.}}",
            json!({"k": {"z": [], "a": {}}}),
            "map[k:map[a:map[] z:[]]]",
        ),
        (
            "{{range .}}{{.Name}} {{end}}",
            json!([{"Name": "a"}, {"Name": "b"}]),
            "a b ",
        ),
        ("{{.}}", json!(1.0e21), "1e+21"),
        ("{{.}}", json!(-0.5), "-0.5"),
        ("{{.}}", json!(u64::MAX), "18446744073709551615"),
        ("{{len .}}", json!("héllo"), "6"),
    ];
    for (src, data, want) in cases {
        assert_eq!(
            render(src, data).as_deref(),
            Ok(*want),
            "template {src:?} with {data}"
        );
    }
}

#[test]
fn parse_once_execute_many() {
    let t = Template::parse("{{.Name}}:{{len .Tags}}").unwrap();
    assert_eq!(
        t.execute(&json!({"Name": "a", "Tags": [1]})).unwrap(),
        "a:1"
    );
    assert_eq!(t.execute(&json!({"Name": "b", "Tags": []})).unwrap(), "b:0");
    assert_eq!(t.source(), "{{.Name}}:{{len .Tags}}");
}

/// (template, expected error message) run against `container()`.
const ERRORS: &[(&str, &str)] = &[
    // Parse errors.
    ("{{.ID", "1:1: unclosed action"),
    ("ok {{.ID}} {{.Image", "1:12: unclosed action"),
    ("{{.A}", "1:5: bad character '}'"),
    ("{{foo .ID}}", "1:3: function \"foo\" not defined"),
    ("line1\n  {{foo}}", "2:5: function \"foo\" not defined"),
    ("{{end}}", "1:3: unexpected {{end}}"),
    ("a{{else}}b", "1:4: unexpected {{else}}"),
    (
        "{{if .ID}}x",
        "1:3: unexpected EOF: {{if}} has no matching {{end}}",
    ),
    (
        "{{range .Names}}{{else}}",
        "1:3: unexpected EOF: {{range}} has no matching {{end}}",
    ),
    (
        "{{with .ID}}{{if 1}}{{end}}",
        "1:3: unexpected EOF: {{with}} has no matching {{end}}",
    ),
    (
        "{{if 1}}{{else}}{{else}}{{end}}",
        "1:19: expected {{end}}; found {{else}}",
    ),
    ("{{$x}}", "1:3: undefined variable \"$x\""),
    ("{{$x = 1}}", "1:3: undefined variable \"$x\""),
    (
        "{{if true}}{{$y := 1}}{{end}}{{$y}}",
        "1:32: undefined variable \"$y\"",
    ),
    ("{{}}", "1:3: missing value for command"),
    ("{{if}}{{end}}", "1:5: missing value for if"),
    ("{{\"abc}}", "1:3: unterminated quoted string"),
    ("{{\"\\q\"}}", "1:3: bad string syntax: \"\\q\""),
    ("{{3x}}", "1:3: bad number syntax: \"3x\""),
    ("{{/* x }}", "1:1: unclosed comment"),
    (
        "{{define \"x\"}}{{end}}",
        "1:3: {{define}} is not supported",
    ),
    ("{{template \"x\"}}", "1:3: {{template}} is not supported"),
    ("{{break}}", "1:3: {{break}} outside {{range}}"),
    (
        "{{1 | 2}}",
        "1:7: non executable command in pipeline stage 2",
    ),
    ("{{.ID |}}", "1:8: missing command after |"),
    ("{{.ID | | len}}", "1:9: unexpected \"|\" in command"),
    (
        "{{(.ID}}",
        "1:7: unexpected \"}}\" in parenthesized pipeline",
    ),
    ("{{.ID)}}", "1:6: unexpected \")\" in command"),
    (
        "{{if $a, $b := .Names}}{{end}}",
        "1:8: too many declarations in if",
    ),
    ("{{\"x\".Y}}", "1:3: unexpected . after term \"\\\"x\\\"\""),
    // Execution errors.
    ("{{len}}", "1:3: wrong number of args for len: want 1 got 0"),
    (
        "{{len 1 2}}",
        "1:3: wrong number of args for len: want 1 got 2",
    ),
    (
        "{{.Names | len 1}}",
        "1:12: wrong number of args for len: want 1 got 2",
    ),
    (
        "{{index}}",
        "1:3: wrong number of args for index: want at least 1 got 0",
    ),
    (
        "{{pad \"a\" 1}}",
        "1:3: wrong number of args for pad: want 3 got 2",
    ),
    (
        "{{lower 1}}",
        "1:3: error calling lower: wrong type for argument 1; expected string; got int",
    ),
    (
        "{{truncate \"a\" \"b\"}}",
        "1:3: error calling truncate: wrong type for argument 2; expected int; got string",
    ),
    (
        "{{join \"a\" \",\"}}",
        "1:3: error calling join: wrong type for argument 1; expected []string; got string",
    ),
    ("{{.ID.X}}", "1:3: can't evaluate field X in type string"),
    (
        "{{.Names.X}}",
        "1:3: can't evaluate field X in type []interface {}",
    ),
    (
        "{{.State.Health.Status}}",
        "1:3: nil pointer evaluating interface {}.Status",
    ),
    (
        "{{index .Names 5}}",
        "1:3: error calling index: index out of range: 5",
    ),
    (
        "{{index .Names \"a\"}}",
        "1:3: error calling index: cannot index slice/array with type string",
    ),
    (
        "{{index .Labels 1}}",
        "1:3: error calling index: value has type int; should be string",
    ),
    (
        "{{slice .ID 3 1}}",
        "1:3: error calling slice: invalid slice index: 3 > 1",
    ),
    (
        "{{slice .ID 0 99}}",
        "1:3: error calling slice: index out of range: 99",
    ),
    ("{{len 3}}", "1:3: error calling len: len of type int"),
    (
        "{{eq \"a\" 1}}",
        "1:3: error calling eq: incompatible types for comparison",
    ),
    (
        "{{eq .Names .Names}}",
        "1:3: error calling eq: invalid type for comparison",
    ),
    (
        "{{lt true false}}",
        "1:3: error calling lt: invalid type for comparison",
    ),
    (
        "{{eq 1}}",
        "1:3: error calling eq: missing argument for comparison",
    ),
    (
        "{{pad .ID -1 0}}",
        "1:3: error calling pad: strings: negative Repeat count",
    ),
    ("{{.ID 1}}", "1:3: can't give argument to non-function .ID"),
    (
        "{{.ID | .Image}}",
        "1:9: can't give argument to non-function .Image",
    ),
    ("{{nil}}", "1:3: nil is not a command"),
    (
        "{{range .CPU}}{{end}}",
        "1:9: range can't iterate over 12.5",
    ),
    (
        "{{range .ID}}{{end}}",
        "1:9: range can't iterate over 4c01db0b339c",
    ),
    (
        "{{range $i, $v := 3}}{{end}}",
        "1:9: can't use 3 to iterate over more than one variable",
    ),
];

#[test]
fn golden_errors() {
    let data = container();
    let mut failures = Vec::new();
    for (src, want) in ERRORS {
        match render(src, &data) {
            Err(e) if e.to_string() == *want => {}
            Err(e) => failures.push(format!(
                "{src:?}\n   want {want:?}\n    got {:?}",
                e.to_string()
            )),
            Ok(out) => failures.push(format!("{src:?}\n   want error {want:?}\n  output {out:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_are_typed_with_positions() {
    let e = Template::parse("ab\n{{nope 1}}").unwrap_err();
    assert!(matches!(&e, Error::UndefinedFunction { name, .. } if name == "nope"));
    let pos = e.pos();
    assert_eq!((pos.line, pos.column, pos.offset), (2, 3, 5));

    let e = render("{{len 1 2}}", &json!({})).unwrap_err();
    assert!(matches!(&e, Error::ArgCount { name, got: 2, .. } if name == "len"));
    assert!(matches!(
        Template::parse("{{.A"),
        Err(Error::UnclosedAction { .. })
    ));
    assert!(matches!(
        Template::parse("{{end}}"),
        Err(Error::UnexpectedKeyword { .. })
    ));
    assert!(matches!(
        Template::parse("{{if 1}}"),
        Err(Error::UnclosedBlock { .. })
    ));
}

#[test]
fn strip_table_like_docker() {
    assert_eq!(
        strip_table("table {{.ID}}\t{{.Image}}"),
        Some("{{.ID}}\t{{.Image}}")
    );
    assert_eq!(strip_table("table   {{.ID}}  "), Some("{{.ID}}"));
    assert_eq!(strip_table("{{.ID}}\t{{.Image}}"), None);
    assert_eq!(strip_table("table"), None);
    assert_eq!(strip_table("table  "), None);
    assert_eq!(strip_table("json"), None);
}

#[test]
fn tabwriter_docker_ps() {
    let input = concat!(
        "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n",
        "4c01db0b339c\tnginx\t\"docker-entrypoint.s…\"\t2 minutes ago\tUp 2 minutes\t80/tcp\tweb\n",
        "d7886598dbe2\tredis\t\"redis-server\"\t3 hours ago\tUp 3 hours\t\tcache\n",
    );
    let want = concat!(
        "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES\n",
        "4c01db0b339c   nginx     \"docker-entrypoint.s…\"   2 minutes ago   Up 2 minutes   80/tcp    web\n",
        "d7886598dbe2   redis     \"redis-server\"           3 hours ago     Up 3 hours               cache\n",
    );
    assert_eq!(tabwrite(input), want);
}

#[test]
fn tabwriter_docker_images() {
    let input = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\nubuntu\t22.04\t3b418d7b466a\t2 weeks ago\t77.8MB\n";
    let want = concat!(
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n",
        "ubuntu       22.04     3b418d7b466a   2 weeks ago   77.8MB\n",
    );
    assert_eq!(tabwrite(input), want);
}

#[test]
fn tabwriter_edge_cases() {
    // Minimum width 10 and no padding on the last cell.
    assert_eq!(
        tabwrite("ID\tNAME\nab\tx\n"),
        "ID        NAME\nab        x\n"
    );
    // Empty cells still take the column width.
    assert_eq!(tabwrite("a\t\tb\n"), "a                   b\n");
    // No trailing newline: the last line is still aligned.
    assert_eq!(
        tabwrite("NAME\tX\nlonger-name-here\ty"),
        "NAME               X\nlonger-name-here   y"
    );
    // Widths are counted in characters.
    assert_eq!(
        tabwrite("héllo wörld!\tx\nab\ty\n"),
        "héllo wörld!   x\nab             y\n"
    );
    // A line without tabs ends the column blocks above and below it.
    assert_eq!(
        tabwrite("a\tb\nplain\nlong-cell-text\tc\n"),
        "a         b\nplain\nlong-cell-text   c\n"
    );
    // Lines with fewer cells split deeper columns into separate blocks.
    assert_eq!(
        tabwrite("a\tb\tc\naa\tbbbbbbbbbbbb\tc\naaa\tx\n"),
        "a         b              c\naa        bbbbbbbbbbbb   c\naaa       x\n"
    );
    assert_eq!(tabwrite(""), "");
    assert_eq!(tabwrite("no tabs\n"), "no tabs\n");
    // A trailing tab makes the cell before it part of a column.
    assert_eq!(tabwrite("a\t\nbb\t\n"), "a         \nbb        \n");
}

#[test]
fn table_format_end_to_end() {
    let rows = [
        json!({"ID": "4c01db0b339c", "Image": "nginx"}),
        json!({"ID": "d7886598dbe2", "Image": "ubuntu:22.04"}),
    ];
    let src = strip_table("table {{.ID}}\t{{.Image}}").unwrap();
    let t = Template::parse(src).unwrap();
    let mut text = t
        .execute(&json!({"ID": "CONTAINER ID", "Image": "IMAGE"}))
        .unwrap()
        + "\n";
    for r in &rows {
        text += &(t.execute(r).unwrap() + "\n");
    }
    assert_eq!(
        tabwrite(&text),
        "CONTAINER ID   IMAGE\n4c01db0b339c   nginx\nd7886598dbe2   ubuntu:22.04\n"
    );
}

fn inspect() -> Value {
    json!({
        "Name": "/web",
        "Args": ["-g", "daemon off;"],
        "State": {"Pid": 4242, "Status": "running"},
        "Config": {"Labels": {"maintainer": "NGINX", "com.example.tier": "front"}, "Env": ["A=1", "B=2"]},
        "NetworkSettings": {
            "IPAddress": "172.17.0.2",
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
            "Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "back": {"IPAddress": "10.0.0.5"}}
        }
    })
}

/// Formats seen in docker's documentation and common use, against `inspect()`.
const INSPECT_CASES: &[(&str, &str)] = &[
    ("{{.State.Pid}}", "4242"),
    ("{{.NetworkSettings.IPAddress}}", "172.17.0.2"),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.0.0.5 172.17.0.2 "),
    ("{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}", "8080"),
    ("{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}", "80/tcp -> 8080"),
    ("{{json .Config.Labels}}", r#"{"maintainer":"NGINX","com.example.tier":"front"}"#),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{println}}{{end}}", "com.example.tier=front\nmaintainer=NGINX\n"),
    ("{{index .Config.Labels \"com.example.tier\"}}", "front"),
    ("{{join .Args \" \"}}", "-g daemon off;"),
    ("{{range .Config.Env}}{{println .}}{{end}}", "A=1\nB=2\n"),
    ("{{slice .Name 1}}", "web"),
    ("{{upper (slice .Name 1)}}", "WEB"),
    ("{{.Name | printf \"%q\"}}", "\"/web\""),
    ("{{if eq .State.Status \"running\" \"restarting\"}}alive{{end}}", "alive"),
    ("{{if $x := 0}}{{else if $y := 1}}{{$x}}{{$y}}{{end}}", "01"),
    ("{{- range .Config.Env }}\n  {{- . }},\n{{- end }}", "A=1,B=2,"),
];

#[test]
fn docker_inspect_formats() {
    let data = inspect();
    for (src, want) in INSPECT_CASES {
        assert_eq!(render(src, &data).as_deref(), Ok(*want), "template {src:?}");
    }
}

#[test]
fn nesting_limit() {
    let deep = |n: usize| format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
    assert_eq!(render(&deep(100), &Value::Null).as_deref(), Ok("x"));
    assert!(matches!(
        Template::parse(&deep(101)),
        Err(Error::Syntax { .. })
    ));
    let parens = |n: usize| format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n));
    assert_eq!(render(&parens(50), &Value::Null).as_deref(), Ok("1"));
    assert!(Template::parse(&parens(500)).is_err());
}

#[test]
fn no_panics_on_truncated_templates() {
    let data = container();
    let all = CASES
        .iter()
        .chain(ERRORS)
        .chain(INSPECT_CASES)
        .map(|(src, _)| *src);
    for src in all {
        for (i, _) in src.char_indices().chain([(src.len(), ' ')]) {
            let _ = render(&src[..i], &data);
            let _ = render(&src[i..], &data);
        }
    }
}
