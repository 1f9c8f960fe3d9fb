(function () {
  "use strict";
  var form = document.getElementById("login");
  var error = document.getElementById("login-error");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    error.textContent = "";
    fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Requested-With": "cskh" },
      body: JSON.stringify({
        username: document.getElementById("username").value,
        password: document.getElementById("password").value,
      }),
    })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.detail || "Đăng nhập thất bại.");
          location.href = "/console";
        });
      })
      .catch(function (err) {
        error.textContent = err.message;
      });
  });
})();
