use testkit::RefusingPort;

#[tokio::test]
async fn a_connection_to_a_refusing_port_is_refused() {
    let port = RefusingPort::new();
    let error = tokio::net::TcpStream::connect(port.addr()).await.expect_err("nothing listens there");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused, "{error}");
    assert_eq!(port.url("/notify"), format!("http://127.0.0.1:{}/notify", port.addr().port()));
}

#[test]
fn no_other_socket_takes_the_port_while_it_is_held() {
    let port = RefusingPort::new();
    let error = std::net::TcpListener::bind(port.addr()).expect_err("the port is held");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
}
